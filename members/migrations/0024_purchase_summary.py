"""The purchase summary the segment keys on purchases read (issue 18: a count at 1M members under
2 s), kept exact by PostgreSQL triggers so the posting runs no statement of its own for it.

On PostgreSQL: a unique index on (member, category, product) — NULLs as 0 — for the upsert, two
covering indexes (category / product, last_ordered_at) INCLUDE (member) that a segment count
reads with an index-only scan, the triggers, and the first fill from the purchases. A line insert
(one statement per posting, or per import batch: the rows it inserted, as a transition table)
upserts GREATEST(last_ordered_at); a change that can lower a date or take a row away (a line
returned, updated or deleted, a purchase refunded, re-dated, given to a member or deleted)
recomputes the members concerned from their counted lines. Other databases get the table only
(the segments read the lines there).
"""

import django.db.models.deletion
from django.db import migrations, models

COUNTED = (
    "p.member_id IS NOT NULL AND p.total > p.refunded_total AND l.quantity > l.returned_quantity "
    "AND (l.category_id IS NOT NULL OR l.product_id IS NOT NULL)"
)
UPSERT = (
    "ON CONFLICT (member_id, (COALESCE(category_id, 0)), (COALESCE(product_id, 0))) "
    "DO UPDATE SET last_ordered_at = GREATEST(s.last_ordered_at, EXCLUDED.last_ordered_at)"
)
INSERT = (
    "INSERT INTO members_purchasesummary AS s (member_id, category_id, product_id, last_ordered_at) "
    "SELECT p.member_id, l.category_id, l.product_id, max(p.ordered_at)"
)

FORWARDS = f"""
{INSERT}
FROM members_purchase p JOIN members_purchaseitem l ON l.purchase_id = p.id
WHERE {COUNTED}
GROUP BY 1, 2, 3;

CREATE UNIQUE INDEX members_psummary_key
    ON members_purchasesummary (member_id, (COALESCE(category_id, 0)), (COALESCE(product_id, 0)));
CREATE INDEX members_psummary_category
    ON members_purchasesummary (category_id, last_ordered_at) INCLUDE (member_id);
CREATE INDEX members_psummary_product
    ON members_purchasesummary (product_id, last_ordered_at) INCLUDE (member_id);

CREATE FUNCTION members_psummary_recompute(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM members_purchasesummary WHERE member_id = ANY(ids);
    {INSERT}
    FROM members_purchase p JOIN members_purchaseitem l ON l.purchase_id = p.id
    WHERE p.member_id = ANY(ids) AND {COUNTED}
    GROUP BY 1, 2, 3
    {UPSERT};
END $$;

CREATE FUNCTION members_psummary_lines_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {INSERT}
    FROM new_lines l JOIN members_purchase p ON p.id = l.purchase_id
    WHERE {COUNTED}
    GROUP BY 1, 2, 3
    {UPSERT};
    RETURN NULL;
END $$;

CREATE FUNCTION members_psummary_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM members_psummary_recompute(ARRAY(
            SELECT DISTINCT p.member_id FROM old_lines o JOIN members_purchase p ON p.id = o.purchase_id
            WHERE p.member_id IS NOT NULL));
    ELSE
        PERFORM members_psummary_recompute(ARRAY(
            SELECT DISTINCT p.member_id
            FROM old_lines o JOIN new_lines n ON n.id = o.id
            JOIN members_purchase p ON p.id IN (o.purchase_id, n.purchase_id)
            WHERE p.member_id IS NOT NULL
              AND (o.purchase_id, o.category_id, o.product_id, o.quantity, o.returned_quantity)
                  IS DISTINCT FROM (n.purchase_id, n.category_id, n.product_id, n.quantity, n.returned_quantity)));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION members_psummary_purchase_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM members_psummary_recompute(array_remove(ARRAY[OLD.member_id], NULL));
    ELSE
        PERFORM members_psummary_recompute(array_remove(ARRAY[OLD.member_id, NEW.member_id], NULL));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER members_psummary_lines_insert AFTER INSERT ON members_purchaseitem
    REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION members_psummary_lines_inserted();
CREATE TRIGGER members_psummary_lines_update AFTER UPDATE ON members_purchaseitem
    REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION members_psummary_lines_changed();
CREATE TRIGGER members_psummary_lines_delete AFTER DELETE ON members_purchaseitem
    REFERENCING OLD TABLE AS old_lines FOR EACH STATEMENT EXECUTE FUNCTION members_psummary_lines_changed();
CREATE TRIGGER members_psummary_purchase_update
    AFTER UPDATE OF member_id, total, refunded_total, ordered_at ON members_purchase FOR EACH ROW
    WHEN ((OLD.member_id, OLD.total, OLD.refunded_total, OLD.ordered_at)
          IS DISTINCT FROM (NEW.member_id, NEW.total, NEW.refunded_total, NEW.ordered_at))
    EXECUTE FUNCTION members_psummary_purchase_changed();
CREATE TRIGGER members_psummary_purchase_delete AFTER DELETE ON members_purchase
    FOR EACH ROW WHEN (OLD.member_id IS NOT NULL) EXECUTE FUNCTION members_psummary_purchase_changed();

"""

BACKWARDS = """
DROP TRIGGER members_psummary_lines_insert ON members_purchaseitem;
DROP TRIGGER members_psummary_lines_update ON members_purchaseitem;
DROP TRIGGER members_psummary_lines_delete ON members_purchaseitem;
DROP TRIGGER members_psummary_purchase_update ON members_purchase;
DROP TRIGGER members_psummary_purchase_delete ON members_purchase;
DROP FUNCTION members_psummary_lines_inserted();
DROP FUNCTION members_psummary_lines_changed();
DROP FUNCTION members_psummary_purchase_changed();
DROP FUNCTION members_psummary_recompute(bigint[]);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARDS)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARDS)


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0023_open_service_records_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='PurchaseSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('last_ordered_at', models.DateTimeField(verbose_name='last bought at')),
                ('category', models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='members.category', verbose_name='category')),
                ('member', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='members.member', verbose_name='member')),
                ('product', models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='members.product', verbose_name='product')),
            ],
            options={
                'verbose_name': 'purchase summary',
                'verbose_name_plural': 'purchase summaries',
                'ordering': ['member_id', 'id'],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
