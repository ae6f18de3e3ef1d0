"""Benchmark: 100,000 SMS through the campaign outbox to the fake Aliyun server, two workers.

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_dispatch.py [--messages 100000] [--workers 2] [--rate 1000,0]
        [--batch-size 100]
    (or: make bench-dispatch)

Issue 14's goal: at a provider's usual account limit of 1,000 SMS/s the dispatcher is not the
bottleneck on this machine. One invocation, on a fresh PostgreSQL database (`bench_dispatch`,
dropped first), production mode:

1. `--messages` members with a China mobile number and SMS marketing consent, imported with the
   member import service (`members.importing.import_members`: COPY, encrypted phones, consent
   rows and their history) from a generated CSV; a contact policy with no quiet hours and a
   frequency cap no run reaches.
2. For each rate of `--rate` (messages per second; 0 = no limit, the dispatcher's ceiling — the
   policy's SMS rate is then set to 1,000,000,000, so the rate limiter still takes its slot in
   Redis for every message): a new SMS campaign to every member, launched and started with
   `start_campaign` (fills the outbox; timed on its own), then `--workers` worker processes,
   each calling `campaigns.services.dispatch.dispatch_batch` in a loop with its own lease owner
   until it claims nothing. SMS_PROVIDER is Aliyun's SDK provider (the V3 signature, plain HTTP,
   keep-alive; `--batch-size` is SMS_BATCH_SIZE: 100 sends a block in one SendBatchSms call, 1 one
   SendSms per message) pointed at the fake Aliyun server
   (tests/fakes/aliyun_sms.py), which runs as a separate process and counts what it accepted.
   Until campaigns carry a provider template (issue 14's MessageTemplate), the provider is
   tests/campaigns/providers.py's CampaignAliyunSmsProvider, which fills in a template code.
3. Checks: every outbox row of the campaign is `sent` (none failed, skipped or left), the fake
   server accepted exactly as many messages as there are members, no message (BizId and number:
   the outbox's provider reference, `campaigns.channels.aliyun.message_ref`) twice, and the set of
   accepted messages is the set of the campaign's outbox rows' provider references.
4. CPU per message, read from /proc: the worker processes, their PostgreSQL backends (found by
   `pg_backend_pid()`; PostgreSQL's shared background processes are not counted, as other
   sessions use them too) and the fake server; on a machine whose CPUs are the limit,
   cores ÷ (CPU per message) is the most messages per second there can be.
5. A profile of one worker (pyinstrument, when installed) sending a small extra campaign with
   no rate limit, and the SQL queries and Redis calls per message.

Redis: REDIS_URL (the rate limiter's counter; default redis://127.0.0.1:6379/13) and
CELERY_BROKER_URL (default redis://127.0.0.1:6379/14) — both databases are flushed before and
after, so give ones nothing else uses. Figures go to benchmarks/results/dispatch.txt (the new run
on top, the earlier ones kept below).
The load average of the machine is printed with every run: the fake server, PostgreSQL, Redis and
the workers all share its cores.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from purchase_fixtures import ROOT, fresh_database, machine, production_env, setup_django, sh

RESULTS = ROOT / "benchmarks" / "results" / "dispatch.txt"
GOAL = 1_000  # SMS per second: a provider account's usual limit
NO_LIMIT = 1_000_000_000  # the policy's SMS rate for a run "without limit"
PROVIDER = "tests.campaigns.providers.CampaignAliyunSmsProvider"
MOBILE_PREFIXES = ["135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "186", "187", "188", "189"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红玲芬燕彬鑫浩宇晨欣怡涵轩萱琪豪俊婷雪梅"
BODY = "{{ name }}，您好！花店会员日全场九折，您当前积分 {{ points_balance }}，欢迎到店选购。"


def sms_template():
    """The approved SMS template a campaign needs (the same text as BODY, in Aliyun's form)."""
    from campaigns.models import MessageTemplate
    from campaigns.services.message_templates import save_message_template

    found = MessageTemplate.objects.filter(provider_code="SMS_100").first()
    return found or save_message_template(
        name="会员日", channel="sms", provider_code="SMS_100", sign_name="花店会员",
        text="${name}，您好！花店会员日全场九折，您当前积分 ${points}，欢迎到店选购。",
        variables={"name": "member.name", "points": "points_balance"},
    )  # fmt: skip


# --- children (each a fresh process with Django set up) ------------------------------------------


def child_seed(members: int) -> None:
    """Members with phones and SMS consent (the import service), and a permissive contact policy."""
    setup_django()
    from campaigns.services.policy import update_contact_policy
    from members.importing import import_members

    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["external_id", "name", "phone", "email", "birthday", "registered_at", "consent_marketing_sms"])
    for i in range(members):
        # 8 digits that never repeat within a prefix: 7919 is coprime with 10^8.
        phone = MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)] + f"{(i * 7919 + 12345) % 10**8:08d}"
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)]
        writer.writerow([f"SMS{i:07d}", name, phone, "", "", "2024-06-01T12:00:00+08:00", "1"])
    rows.seek(0)
    started = time.perf_counter()
    result = import_members(stream=rows, batch_size=5000)
    seconds = time.perf_counter() - started
    update_contact_policy(
        quiet_hours_start=None, quiet_hours_end=None, frequency_cap_messages=1_000_000, frequency_cap_days=1
    )
    print(json.dumps({"created": result.created, "seconds": seconds}))


def child_campaign(name: str, rate: int) -> None:
    """Set the SMS rate, create and launch an SMS campaign to every member, start it (fill the outbox)."""
    setup_django()
    from django.utils import timezone

    from campaigns.models import OutboxMessage
    from campaigns.services.campaigns import create_campaign, launch_campaign
    from campaigns.services.dispatch import start_campaign
    from campaigns.services.policy import update_contact_policy

    update_contact_policy(sms_rate=rate or NO_LIMIT)
    campaign = create_campaign(name=name, channel="sms", body=BODY, message_template=sms_template()).campaign
    now = timezone.now()
    launch_campaign(campaign=campaign, now=now)  # its start task goes to the (unconsumed) broker
    started = time.perf_counter()
    result = start_campaign(campaign_id=campaign.pk, now=now)
    seconds = time.perf_counter() - started
    pending = OutboxMessage.objects.filter(campaign=campaign, status=OutboxMessage.Status.PENDING).count()
    print(json.dumps({"campaign": campaign.pk, "audience": result.audience, "pending": pending, "seconds": seconds}))


def child_worker(owner: str) -> None:
    """Dispatch until nothing is left to claim. Prints `ready`, waits for a line on stdin, then
    `progress <n>` after each batch and a JSON summary with its CPU and its backend's CPU."""
    setup_django()
    from django.db import connection

    from campaigns.services.dispatch import dispatch_batch

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    from campaigns import channels

    channels.sms_provider()  # the SDK client made before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    own, backend_cpu, started = os.times(), cpu_seconds([backend]), time.perf_counter()
    totals = collections.Counter()
    while True:
        result = dispatch_batch(owner=owner)
        if not result.claimed:
            break
        for outcome in ("claimed", "sent", "failed", "skipped", "deferred", "lost"):
            totals[outcome] += getattr(result, outcome)
        print(f"progress {result.sent + result.failed + result.skipped}", flush=True)
    after = os.times()
    summary = {
        "owner": owner,
        "seconds": time.perf_counter() - started,
        "cpu": (after.user + after.system) - (own.user + own.system),
        "backend_cpu": cpu_seconds([backend]) - backend_cpu,
        **totals,
    }
    print(json.dumps(summary), flush=True)


def child_check(campaign_id: int, references_file: str) -> None:
    """The campaign's outbox by status, and its rows compared with what the fake accepted: each
    accepted (BizId, number) is the provider reference of exactly one outbox row."""
    setup_django()
    from django.db.models import Count

    from campaigns.channels.aliyun import message_ref
    from campaigns.models import OutboxMessage

    rows = OutboxMessage.objects.filter(campaign_id=campaign_id)
    by_status = dict(rows.values_list("status").annotate(n=Count("pk")).order_by())
    ids = set(rows.exclude(provider_ref="").values_list("provider_ref", flat=True))
    references = [message_ref(biz_id, phone) for biz_id, phone in json.loads(Path(references_file).read_text())]
    counts = collections.Counter(references)
    print(
        json.dumps(
            {
                "by_status": by_status,
                "rows": rows.count(),
                "accepted": len(references),
                "distinct_references": len(counts),
                "duplicates": sum(n - 1 for n in counts.values() if n > 1),
                "references_not_in_outbox": len(set(counts) - ids),
                "outbox_rows_not_accepted": len(ids - set(counts)),
                "distinct_provider_refs": rows.exclude(provider_ref="").values("provider_ref").distinct().count(),
            }
        )
    )


def child_profile(members: int) -> None:
    """One worker, no rate limit, a small extra campaign: queries and Redis calls per message,
    then a pyinstrument profile of dispatching the rest."""
    setup_django()
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from campaigns import channels
    from campaigns.models import Campaign, OutboxMessage, SkipReason
    from campaigns.services.campaigns import create_campaign, launch_campaign
    from campaigns.services.dispatch import dispatch_batch, start_campaign
    from campaigns.services.policy import update_contact_policy

    update_contact_policy(sms_rate=NO_LIMIT)
    campaign = create_campaign(name="profile", channel="sms", body=BODY, message_template=sms_template()).campaign
    now = timezone.now()
    launch_campaign(campaign=campaign, now=now)
    start_campaign(campaign_id=campaign.pk, now=now)
    # Only the first `members` rows stay pending: a short profile, same code path.
    pending = OutboxMessage.objects.filter(campaign=campaign, status=OutboxMessage.Status.PENDING).order_by("pk")
    keep = list(pending.values_list("pk", flat=True)[:members])
    pending.exclude(pk__in=keep).update(status=OutboxMessage.Status.SKIPPED, skip_reason=SkipReason.CANCELLED)
    channels.sms_provider()
    dispatch_batch(owner="profile-warm-up", batch_size=10)

    redis_calls = collections.Counter()
    client = cache._cache.get_client  # count what the rate limiter asks Redis, by command

    def counting(*args, **kwargs):
        redis_client = client(*args, **kwargs)
        if not getattr(redis_client, "_bench_counted", False):
            original = redis_client.execute_command

            def execute_command(*command, **options):
                redis_calls[str(command[0])] += 1
                return original(*command, **options)

            redis_client.execute_command = execute_command
            redis_client._bench_counted = True
        return redis_client

    cache._cache.get_client = counting
    with CaptureQueriesContext(connection) as queries:
        batch = dispatch_batch(owner="profile-count", batch_size=100)
    cache._cache.get_client = client
    per_message = collections.Counter()
    for query in queries.captured_queries:  # grouped with their values blanked out
        sql = re.sub(r"\b\d+(\.\d+)?\b", "?", re.sub(r"'[^']*'|\"s\d+_x\d+\"", "?", " ".join(query["sql"].split())))
        per_message[sql[:110]] += 1
    report = {
        "batch_sent": batch.sent,
        "queries": len(queries),
        "redis": dict(redis_calls),
        "statements": per_message.most_common(25),
        "steps": cpu_by_step(dispatch_batch, messages=min(1_000, members // 2)),
        "sdk": sdk_cpu(channels.sms_provider(), calls=300),
    }
    try:
        from pyinstrument import Profiler
    except ImportError:
        report["profile"] = "(pyinstrument not installed)"
    else:
        profiler = Profiler(interval=0.0005)
        sent, started = 0, time.perf_counter()
        with profiler:
            while True:
                result = dispatch_batch(owner="profile")
                if not result.claimed:
                    break
                sent += result.sent
        report["profiled_sent"] = sent
        report["profiled_seconds"] = time.perf_counter() - started
        report["profile"] = profiler.output_text(unicode=True, color=False, show_all=False)
    report["left"] = OutboxMessage.objects.filter(
        campaign=campaign, status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.SENDING]
    ).count()
    report["completed"] = Campaign.objects.get(pk=campaign.pk).status
    print(json.dumps(report))


def cpu_by_step(dispatch_batch, *, messages: int) -> dict:
    """CPU time (this process, time.process_time) per message of each step of dispatch_batch,
    over about `messages` messages: the module's functions are wrapped while it runs."""
    from campaigns.services import dispatch

    # (where, name): what it is; "  of which" rows are parts of the step above them (not added twice).
    steps = {
        ("dispatch", "claim_batch"): "claim (FOR UPDATE SKIP LOCKED, lease)",
        ("dispatch", "batch_context"): "batch_context (rows, policy, offers, automation steps, snapshots: a batch)",
        ("dispatch", "take_send_slots"): "rate limiter (Redis add + incr, one per block of sends)",
        ("dispatch", "prepare_block"): "prepare_block (a transaction a block: lock, consent, cap, render, sending)",
        ("lock_objects", "outbox_messages_for_update"): "  of which the row lock (rows, campaign, member decrypted)",
        ("dispatch", "_with_consent"): "  of which consent (one query a block)",
        ("lock_objects", "lock_member_contacts"): "  of which the contact locks (one statement a block)",
        ("selectors", "recent_contact_counts"): "  of which the frequency-cap counts (one query a block)",
        ("dispatch", "message_for"): "  of which message_for (the template with the member's values)",
        ("dispatch", "record_block"): "record_block (mark sent, settle offers, early receipts: once a block)",
        ("dispatch", "complete_finished_campaigns"): "complete_finished_campaigns (once a batch)",
    }  # fmt: skip
    spent = collections.Counter()
    owners = {"dispatch": dispatch, "lock_objects": dispatch.lock_objects, "selectors": dispatch.selectors}
    originals = {key: getattr(owners[key[0]], key[1]) for key in steps}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - started

        return wrapper

    for key, function in originals.items():
        setattr(owners[key[0]], key[1], timed(key, function))
    sent, started, wall = 0, time.process_time(), time.perf_counter()
    try:
        while sent < messages:
            result = dispatch.dispatch_batch(owner="profile-steps")
            if not result.claimed:
                break
            sent += result.sent
    finally:
        for key, function in originals.items():
            setattr(owners[key[0]], key[1], function)
    total = time.process_time() - started
    accounted = sum(seconds for key, seconds in spent.items() if not steps[key].startswith("  "))
    rows = {steps[key]: spent[key] / max(sent, 1) * 1000 for key in steps}
    rows["the rest: provider calls (Aliyun SDK: SendBatchSms, or SendSms in the send threads) and the loop"] = (
        (total - accounted) / max(sent, 1) * 1000
    )
    return {
        "messages": sent,
        "cpu_ms": total / max(sent, 1) * 1000,
        "wall_ms": (time.perf_counter() - wall) / max(sent, 1) * 1000,
        "rows": rows,
    }


def sdk_cpu(provider, *, calls: int) -> dict:
    """The Aliyun SDK alone: CPU and wall time per SendSms to the fake, and per message of a
    SendBatchSms of 100, no database."""
    from campaigns.channels import TemplateMessage

    message = TemplateMessage(template_code="SMS_100", params={"1": "profile"}, text="profile")
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(calls):
        provider.send(phone="+8613800000000", message=message, reference=f"sdk-{n}")
    single = {
        "calls": calls,
        "cpu_ms": (time.process_time() - cpu) / calls * 1000,
        "wall_ms": (time.perf_counter() - wall) / calls * 1000,
    }
    batches = max(1, calls // 10)
    items = [(f"+86138{n:08d}", message, f"sdk-batch-{n}") for n in range(100)]
    cpu, wall = time.process_time(), time.perf_counter()
    for _n in range(batches):
        provider.send_batch(items)
    single["batch_calls"] = batches
    single["batch_cpu_ms"] = (time.process_time() - cpu) / (batches * 100) * 1000
    single["batch_wall_ms"] = (time.perf_counter() - wall) / (batches * 100) * 1000
    return single


def child_fake(summary_file: str) -> None:
    """The fake Aliyun server in this process; on SIGTERM, what it accepted goes to `summary_file`."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.aliyun_sms import FakeAliyunSms

    fake = FakeAliyunSms(port=0).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(json.dumps({"port": fake.port}), flush=True)
    stop.wait()
    fake.stop()
    with fake.lock:
        summary = {
            "requests": fake.requests,
            "batch_requests": fake.batch_requests,
            "refused": len(fake.refused),
            "refusals": collections.Counter(code for _phone, code in fake.refused).most_common(5),
            "references": [[accepted.message_id, accepted.phone] for accepted in fake.accepted],
        }
    Path(summary_file).write_text(json.dumps(summary))


# --- the parent ---------------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used (Linux /proc), 0 for those gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def child(env: dict, *args: str) -> dict:
    try:
        out = sh(sys.executable, __file__, "--child", *args, env=env)
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(exc.stderr or "")
        raise
    return json.loads(out.splitlines()[-1])


def flush_redis(env: dict) -> None:
    for url in (env["REDIS_URL"], env["CELERY_BROKER_URL"]):
        sh("redis-cli", "-u", url, "FLUSHDB")


def load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def scratch_file() -> str:
    """A file for the fake server's summary (what it accepted)."""
    descriptor, path = tempfile.mkstemp(prefix="bench_dispatch_", suffix=".json")
    os.close(descriptor)
    return path


def start_fake(summary_file: str) -> tuple[subprocess.Popen, int]:
    fake = subprocess.Popen(
        [sys.executable, __file__, "--child", "fake", "--summary", summary_file],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    port = json.loads(fake.stdout.readline())["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    return fake, port


def run_workers(env: dict, *, workers: int, messages: int, label: str) -> dict:
    from tqdm import tqdm

    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "worker", "--owner", f"bench-{label}-{n}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    for process in processes:
        line = process.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"a worker did not start: {line!r}")
    summaries: list[dict] = []
    bar = tqdm(total=messages, desc=f"dispatch ({label})", unit="SMS", smoothing=0.1)
    lock = threading.Lock()

    def read(process):
        for line in process.stdout:
            if line.startswith("progress "):
                with lock:
                    bar.update(int(line.split()[1]))
            elif line.startswith("{"):
                summaries.append(json.loads(line))

    readers = [threading.Thread(target=read, args=(process,)) for process in processes]
    for reader in readers:
        reader.start()
    started = time.perf_counter()
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        process.wait()
    elapsed = time.perf_counter() - started
    for reader in readers:
        reader.join()
    bar.close()
    if any(process.returncode for process in processes) or len(summaries) != workers:
        raise RuntimeError("a worker failed")
    return {"seconds": elapsed, "workers": summaries}


def run_once(env: dict, *, rate: int, workers: int, messages: int) -> dict:
    label = f"{rate}-per-s" if rate else "no-limit"
    summary_file = scratch_file()
    fake, port = start_fake(summary_file)
    env = {**env, "ALIYUN_SMS_ENDPOINT": f"127.0.0.1:{port}"}
    try:
        load_before = load()
        campaign = child(env, "campaign", "--name", f"bench {label}", "--rate", str(rate))
        if campaign["pending"] != messages:
            raise RuntimeError(f"the outbox holds {campaign['pending']} pending messages, not {messages}")
        print(
            f"rate {label}: start_campaign filled the outbox with {campaign['pending']:,} messages "
            f"in {campaign['seconds']:.2f} s; load average {load_before}"
        )
        fake_cpu = cpu_seconds([fake.pid])
        dispatched = run_workers(env, workers=workers, messages=messages, label=label)
        fake_cpu = cpu_seconds([fake.pid]) - fake_cpu
        load_after = load()
    finally:
        fake.send_signal(signal.SIGTERM)
        fake.wait(timeout=60)
    summary = json.loads(Path(summary_file).read_text())
    Path(summary_file).write_text(json.dumps(summary["references"]))
    check = child(env, "check", "--campaign", str(campaign["campaign"]), "--summary", summary_file)
    os.unlink(summary_file)
    sent = sum(w.get("sent", 0) for w in dispatched["workers"])
    ok = (
        check["by_status"] == {"sent": messages}
        and check["accepted"] == messages
        and check["distinct_references"] == messages
        and check["duplicates"] == 0
        and check["references_not_in_outbox"] == 0
        and check["outbox_rows_not_accepted"] == 0
        and check["distinct_provider_refs"] == messages
        and summary["refused"] == 0
        and sent == messages
    )
    worker_cpu = sum(w["cpu"] for w in dispatched["workers"])
    backend_cpu = sum(w["backend_cpu"] for w in dispatched["workers"])
    return {
        "label": label,
        "rate": rate,
        "campaign": campaign,
        "seconds": dispatched["seconds"],
        "per_second": messages / dispatched["seconds"],
        "workers": dispatched["workers"],
        "cpu_ms": {
            "workers": worker_cpu / messages * 1000,
            "PostgreSQL backends": backend_cpu / messages * 1000,
            "fake server": fake_cpu / messages * 1000,
        },
        "fake": {k: v for k, v in summary.items() if k != "references"},
        "check": check,
        "ok": ok,
        "load_before": load_before,
        "load_after": load_after,
    }


def describe(run: dict, messages: int, workers: int) -> list[str]:
    check, cpu = run["check"], run["cpu_ms"]
    total = sum(cpu.values())
    cores = os.cpu_count() or 1
    limit = f"the policy's SMS rate {run['rate']:,}/s" if run["rate"] else "no limit (SMS rate 1,000,000,000/s)"
    busy = ", ".join(
        f"{w['owner'].rsplit('-', 1)[1]}: {w['sent']:,} sent, CPU {w['cpu']:.1f} s of {w['seconds']:.1f} s"
        for w in run["workers"]
    )
    return [
        f"run with {limit}: load average before {run['load_before']}, after {run['load_after']}",
        f"  start_campaign (fills the outbox): {run['campaign']['seconds']:.2f} s for "
        f"{run['campaign']['audience']:,} messages",
        f"  dispatch: {messages:,} SMS in {run['seconds']:.1f} s = {run['per_second']:,.0f} SMS/s "
        f"with {workers} workers"
        + (f" ({run['per_second'] / run['rate']:.0%} of the {run['rate']:,}/s limit)" if run["rate"] else ""),
        f"  workers: {busy}",
        "  CPU per message: "
        + ", ".join(f"{who} {ms:.2f} ms" for who, ms in cpu.items())
        + f" = {total:.2f} ms on {cores} cores -> at most {cores / total * 1000:,.0f} SMS/s",
        f"  fake server: {run['fake']['requests']:,} requests ({run['fake']['batch_requests']:,} SendBatchSms), "
        f"{check['accepted']:,} messages accepted, "
        f"{run['fake']['refused']} refused {run['fake']['refusals'] or ''}",
        f"  check: outbox {check['by_status']}; {check['distinct_references']:,} distinct accepted messages "
        "(BizId + number), "
        f"{check['duplicates']} duplicates, {check['references_not_in_outbox']} unknown, "
        f"{check['outbox_rows_not_accepted']} outbox rows not accepted, "
        f"{check['distinct_provider_refs']:,} distinct provider references -> {'OK' if run['ok'] else 'FAILED'}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rate", default=f"{GOAL},0", help="SMS per second, comma-separated, one run each; 0 = no limit"
    )
    parser.add_argument(
        "--batch-size", type=int, default=100, help="SMS_BATCH_SIZE: SMS per provider call (1 = no batches)"
    )
    parser.add_argument("--profile-messages", type=int, default=2_000)
    parser.add_argument("--database", default="bench_dispatch")
    parser.add_argument("--child", choices=["seed", "campaign", "worker", "check", "profile", "fake"])
    parser.add_argument("--owner", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--campaign", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--summary", help=argparse.SUPPRESS)
    args = parser.parse_args()
    children = {
        "seed": lambda: child_seed(args.messages),
        "campaign": lambda: child_campaign(args.name, int(args.rate)),
        "worker": lambda: child_worker(args.owner),
        "check": lambda: child_check(args.campaign, args.summary),
        "profile": lambda: child_profile(args.profile_messages),
        "fake": lambda: child_fake(args.summary),
    }
    if args.child:
        children[args.child]()
        return

    rates = [int(rate) for rate in args.rate.split(",")]
    env = production_env(args.database)
    env.update(
        {
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"),
            "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14"),
            "SMS_PROVIDER": PROVIDER,
            "ALIYUN_SMS_ACCESS_KEY_ID": "fake-access-key-id",
            "ALIYUN_SMS_ACCESS_KEY_SECRET": "fake-access-key-secret",  # the fake's own test key
            "ALIYUN_SMS_SIGN_NAME": "花店会员",
            "ALIYUN_SMS_PROTOCOL": "http",
            "SMS_BATCH_SIZE": str(args.batch_size),
        }
    )
    description = machine()
    flush_redis(env)
    pg_version = fresh_database(args.database, env)
    seeded = child(env, "seed", "--messages", str(args.messages))
    print(f"{seeded['created']:,} members with phones and SMS consent imported in {seeded['seconds']:.1f} s")
    runs = [run_once(env, rate=rate, workers=args.workers, messages=args.messages) for rate in rates]
    for run in runs:
        print("\n".join(describe(run, args.messages, args.workers)))

    fake_file = scratch_file()
    fake, port = start_fake(fake_file)
    try:
        profile = child(
            {**env, "ALIYUN_SMS_ENDPOINT": f"127.0.0.1:{port}"},
            "profile",
            "--profile-messages",
            str(args.profile_messages),
        )
    finally:
        fake.send_signal(signal.SIGTERM)
        fake.wait(timeout=60)
        os.unlink(fake_file)
    per_message = profile["queries"] / max(profile["batch_sent"], 1)
    print(
        f"one batch of {profile['batch_sent']} SMS: {profile['queries']} SQL queries ({per_message:.1f} per message), "
        f"Redis calls {profile['redis']}"
    )

    verdict = []
    limited = [run for run in runs if run["rate"] == GOAL]
    ceiling = [run for run in runs if not run["rate"]]
    if limited:
        run = limited[0]
        keeps_up = run["per_second"] >= 0.95 * GOAL
        verdict.append(
            f"at the {GOAL:,}/s limit: {run['per_second']:,.0f} SMS/s -> the dispatcher "
            + ("keeps up (the provider's limit is the bottleneck)" if keeps_up else "IS the bottleneck")
        )
    if ceiling:
        run = ceiling[0]
        verdict.append(
            f"no limit: {run['per_second']:,.0f} SMS/s = {run['per_second'] / GOAL:.2f}x the {GOAL:,}/s goal"
        )
    lines = [
        "SMS dispatch benchmark (benchmarks/bench_dispatch.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {description}; PostgreSQL {pg_version}",
        f"command: {' '.join(['benchmarks/bench_dispatch.py', *sys.argv[1:]])}",
        f"setup: {args.messages:,} members with a mobile number and SMS consent (member import: "
        f"{seeded['seconds']:.1f} s); contact policy without quiet hours; {args.workers} worker processes "
        f"each calling dispatch_batch (batch {os.environ.get('CAMPAIGN_BATCH_SIZE', 100)}) until nothing is left; "
        f"SMS_BATCH_SIZE {args.batch_size} ("
        + ("SendBatchSms" if args.batch_size > 1 else "SendSms per message")
        + "); "
        f"SMS through the Aliyun SDK ({PROVIDER}) to the fake Aliyun server (tests/fakes/aliyun_sms.py, its own "
        "process, HTTP keep-alive, V3 signature checked); production mode; Redis rate limiter",
        "",
        *[line for run in runs for line in describe(run, args.messages, args.workers)],
        "",
        *verdict,
        "",
        f"one batch of {profile['batch_sent']} SMS (no limit, one worker): {profile['queries']} SQL queries "
        f"= {per_message:.1f} per message; Redis calls: {profile['redis']}",
        *(f"  {count:5d}  {sql}" for sql, count in profile["statements"]),
        "",
        f"CPU per message by step (one worker alone, no limit, {profile['steps']['messages']:,} SMS; "
        f"process CPU {profile['steps']['cpu_ms']:.2f} ms, wall {profile['steps']['wall_ms']:.2f} ms per message):",
        *(f"  {ms:6.2f} ms  {step}" for step, ms in profile["steps"]["rows"].items()),
        f"the Aliyun SDK alone ({profile['sdk']['calls']} SendSms to the fake, no database): "
        f"CPU {profile['sdk']['cpu_ms']:.2f} ms, wall {profile['sdk']['wall_ms']:.2f} ms per call; "
        f"{profile['sdk']['batch_calls']} SendBatchSms of 100: CPU {profile['sdk']['batch_cpu_ms']:.3f} ms, "
        f"wall {profile['sdk']['batch_wall_ms']:.3f} ms per message",
        "",
        f"profile of one worker sending {profile.get('profiled_sent', 0):,} SMS alone, no limit "
        f"({profile.get('profiled_seconds', 0):.1f} s, pyinstrument; the profiler slows it down):",
        profile["profile"],
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    earlier = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    separator = "=" * 98
    RESULTS.write_text("\n".join(lines) + "\n" + (f"\n{separator}\n\n{earlier}" if earlier else ""), encoding="utf-8")
    print("\n".join(verdict))
    print(f"written to {RESULTS.relative_to(ROOT)}")
    flush_redis(env)
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", args.database)
    if not all(run["ok"] for run in runs):
        sys.exit("a check FAILED (see above)")


if __name__ == "__main__":
    main()
