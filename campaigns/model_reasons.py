"""Why a classification run did not use the BG/NBD or Gamma-Gamma fit, in the reader's language.

`campaigns.clv` states each reason as a `Problem` (an English sentence with a code and its
parameters); a run stores the codes and parameters (`model["problems"]`,
`model["gamma_gamma_problem"]`), and screens render them here. Runs recorded before the codes
existed show their English sentence as it was stored.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "no_purchases": _("no purchases yet"),
    "bgnbd_too_few": _("BG/NBD needs at least %(customers)s customers, %(repeat)s of them repeat"),
    "gamma_gamma_too_few": _("Gamma-Gamma needs at least %(repeat)s repeat customers"),
    "gamma_gamma_degenerate": _("the Gamma-Gamma fit degenerated (p=%(p)s, q=%(q)s, v=%(v)s)"),
    "not_maximised": _("the likelihood could not be maximised"),
    "not_converged": _("the optimiser did not converge (%(message)s)"),
    "collapsed": _("%(name)s collapsed to %(value)s"),
    "collapsed_at_bound": _("%(name)s collapsed to %(value)s (a bound of the search)"),
    "ran_away": _("%(name)s ran away to %(value)s"),
    "ran_away_at_bound": _("%(name)s ran away to %(value)s (a bound of the search)"),
    "implausible_alive": _(
        "P(alive) is implausible: %(alive)s (median) for the %(count)s customers silent for more than "
        "%(gaps)s of their own purchase gaps"
    ),
}


def render_problem(problem: dict) -> str:
    template = MESSAGES.get(problem.get("code", ""))
    if template is None:
        return str(problem.get("code", ""))
    try:
        return str(template) % problem.get("params", {})
    except (KeyError, TypeError, ValueError):
        return str(problem.get("code", ""))


def bgnbd_reason(model: dict) -> str:
    """Why the BG/NBD fit was not used, in the active language ("" when it was)."""
    problems = model.get("problems")
    if problems is None:
        return model.get("reason", "")
    return "; ".join(render_problem(problem) for problem in problems)


def gamma_gamma_reason(model: dict) -> str:
    """Why there is no Gamma-Gamma fit (and so no CLV), in the active language."""
    problem = model.get("gamma_gamma_problem")
    if problem is None:
        return model.get("gamma_gamma_reason", "")
    return render_problem(problem)
