"""A model's own drift and fairness methods and thresholds, over the documented defaults of
monitoring.stats.options: reading them, and the one write, for the page and the API alike.

Evaluations take the values in force when they are asked for (they are part of a run's inputs),
so a change applies to the runs asked for after it; `psi_bins` to the reference profiles built
after it.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.services import record
from registry.models import RegisteredModel

from .access import can_manage_monitors
from .models import ModelMonitoringSettings
from .stats import options

# One line per setting, for the page and the API schema (the words of options.py's docstring).
HELP = {
    "psi_bins": "Reference-quantile bins per numeric feature for PSI and the histograms; "
    "fixed when a reference's profile is built, so a change applies to profiles built after it.",
    "psi_epsilon": "The share an empty bin counts as on either side, so PSI stays finite.",
    "psi_threshold": (
        "PSI at or above this is a large shift: marked on a drift run's page, and failed by a"
        " PSI review check that names no limit of its own."
    ),
    "numeric_method": "The test for numeric features: KS, Wasserstein distance over the "
    "reference standard deviation, or auto (KS up to the large-sample size, Wasserstein above).",
    "categorical_method": "The test for categorical features: chi-squared, Jensen-Shannon "
    "distance, or auto (chi-squared up to the large-sample size, Jensen-Shannon above).",
    "large_sample_rows": "Rows on both sides above which auto switches to the distances, as "
    "Evidently's DataDriftPreset does.",
    "alpha": "A KS or chi-squared feature drifted when its Benjamini-Hochberg adjusted p-value "
    "is below this.",
    "wasserstein_threshold": "Drifted when the Wasserstein distance over the reference standard "
    "deviation reaches this.",
    "jensen_shannon_threshold": "Drifted when the Jensen-Shannon distance (base 2) reaches this.",
    "share_drifted_threshold": "The dataset drifted when at least this share of its features did.",
    "exact_max_rows": "Current values per numeric feature kept whole for the exact tests; past "
    "it the Wasserstein distance is approximated, and the result says so.",
    "min_group_size": "Fairness groups smaller than this are reported, not judged.",
    "four_fifths": "The disparate impact ratio at or above which the four-fifths rule holds.",
}
FAIRNESS = ("min_group_size", "four_fifths")  # the rest are drift's
LABELS = {
    "psi_bins": "PSI bins",
    "psi_epsilon": "PSI epsilon",
    "psi_threshold": "PSI threshold",
    "numeric_method": "Numeric method",
    "categorical_method": "Categorical method",
    "large_sample_rows": "Large sample rows",
    "alpha": "Alpha",
    "wasserstein_threshold": "Wasserstein threshold",
    "jensen_shannon_threshold": "Jensen-Shannon threshold",
    "share_drifted_threshold": "Share of drifted features",
    "exact_max_rows": "Exact test rows",
    "min_group_size": "Minimum group size",
    "four_fifths": "Four-fifths ratio",
}


def own_settings(model: RegisteredModel) -> dict:
    """The values the model set itself (none: every setting at its default)."""
    found = ModelMonitoringSettings.objects.filter(model=model).values_list("values", flat=True)
    return dict(found.first() or {})


def effective_settings(values: dict) -> dict:
    """What evaluations use: the defaults with `values` over them (stored values were checked)."""
    return options.merged(values)


def check_setting(key: str, value: object) -> object:
    """`value` as it would be stored for `key`; ValidationError saying what is allowed."""
    try:
        return options.merged({key: value})[key]
    except ValueError as error:
        raise ValidationError(str(error)) from None


@transaction.atomic
def set_model_settings(*, actor, model: RegisteredModel, values: dict) -> dict:
    """Replace the model's own settings with `values` (an empty dict puts every setting back
    to its default); audited as "monitoring_settings.changed" with the values before and
    after. Team owners and DevOps only. Returns the values stored."""
    if not can_manage_monitors(actor, model):
        raise PermissionDenied("Only the team's owners and DevOps change monitoring settings.")
    try:
        checked = options.merged(values)
    except ValueError as error:
        raise ValidationError(str(error)) from None
    stored = {key: checked[key] for key in values}
    row, _ = ModelMonitoringSettings.objects.select_for_update().get_or_create(model=model)
    before = dict(row.values)
    if before == stored:
        return stored
    row.values = stored
    row.save(update_fields=["values", "updated_at"])
    changed = [key for key in options.DEFAULTS if before.get(key) != stored.get(key)]
    record(
        actor=actor,
        verb="monitoring_settings.changed",
        object_type="monitoring_settings",
        object_id=model.pk,
        object_name=model.name,
        team=model.team,
        model_name=model.name,
        # None: the setting is at its default on that side.
        before={key: before.get(key) for key in changed},
        after={key: stored.get(key) for key in changed},
    )
    return stored
