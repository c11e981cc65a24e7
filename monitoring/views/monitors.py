"""Pages to make and change a model's monitors (owners and DevOps), run one now, delete one;
and the person's own monitoring e-mail setting. The rules live in monitoring.monitors."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from registry.access import get_model_for

from .. import digest, monitors
from ..access import can_manage_monitors
from ..models import DigestFrequency, DigestPreference, EvaluationKind, Interval, Monitor

RULES_HELP = (
    "One rule per line: metric, comparison, warning level, critical level (- for none), e.g. "
    "“roc_auc >= 0.85 0.8” or “share_drifted <= 0.2 0.4”. Metrics are the names of the runs' "
    "summaries: accuracy, f1, roc_auc, share_drifted, max_psi, min_disparate_impact_ratio …"
)


def rules_as_text(rules: list[dict]) -> str:
    def level(value):
        return "-" if value is None else f"{value:g}"

    return "\n".join(
        f"{r['metric']} {r['op']} {level(r.get('warning'))} {level(r.get('critical'))}"
        for r in rules
    )


def _level(word: str, line: int):
    if word == "-":
        return None
    try:
        return float(word)
    except ValueError:
        raise forms.ValidationError(f"Line {line}: {word!r} is not a number (or -).") from None


class MonitorForm(forms.Form):
    name = forms.CharField(max_length=100)
    kinds = forms.MultipleChoiceField(
        choices=EvaluationKind.choices, widget=forms.CheckboxSelectMultiple
    )
    stages = forms.MultipleChoiceField(
        choices=[(s, s.title()) for s in monitors.STAGES], widget=forms.CheckboxSelectMultiple
    )
    window_days = forms.IntegerField(
        min_value=1,
        max_value=monitors.MAX_WINDOW_DAYS,
        initial=7,
        help_text="Each run evaluates the production batches of this many last days.",
    )
    interval = forms.ChoiceField(choices=Interval.choices, initial=Interval.DAILY)
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text=RULES_HELP
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def clean_rules(self) -> list[dict]:
        rules = []
        for number, line in enumerate(self.cleaned_data["rules"].splitlines(), start=1):
            words = line.split()
            if not words:
                continue
            if len(words) != 4:
                raise forms.ValidationError(
                    f"Line {number}: write metric, comparison, warning and critical."
                )
            metric, op, warning, critical = words
            rules.append(
                {
                    "metric": metric,
                    "op": op,
                    "warning": _level(warning, number),
                    "critical": _level(critical, number),
                }
            )
        try:
            return monitors.clean_rules(rules)
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None


def _manageable_model(request, name):
    model = get_model_for(request.user, name)
    if not can_manage_monitors(request.user, model):
        raise PermissionDenied("Only the team's owners and DevOps set up monitors.")
    return model


def _monitor_of(model, pk: int) -> Monitor:
    monitor = Monitor.objects.filter(model=model, pk=pk).first()
    if monitor is None:
        raise Http404(f"Model {model.name!r} has no monitor {pk}.")
    monitor.model = model
    return monitor


def _save(request, form, save):
    if form.is_valid():
        try:
            return save(form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
    return None


@login_required
def monitor_new(request, name):
    model = _manageable_model(request, name)
    form = MonitorForm(request.POST or None, initial={"stages": ["production"]})
    if request.method == "POST":
        made = _save(
            request,
            form,
            lambda fields: monitors.create_monitor(actor=request.user, model=model, **fields),
        )
        if made is not None:
            messages.success(
                request,
                f"Monitor {made.name} made; beat runs it {made.get_interval_display().lower()}.",
            )
            return redirect("monitoring:monitor_edit", model.name, made.pk)
    status = 400 if form.is_bound else 200
    context = {"model": model, "form": form, "monitor": None}
    return render(request, "monitoring/monitor_form.html", context, status=status)


@login_required
def monitor_edit(request, name, pk):
    model = _manageable_model(request, name)
    monitor = _monitor_of(model, pk)
    initial = {field: getattr(monitor, field) for field in monitors.FIELDS}
    initial["rules"] = rules_as_text(monitor.rules)
    form = MonitorForm(request.POST or None, initial=initial)
    if request.method == "POST":
        saved = _save(
            request,
            form,
            lambda fields: monitors.update_monitor(actor=request.user, monitor=monitor, **fields),
        )
        if saved is not None:
            messages.success(request, f"Saved monitor {saved.name}.")
            return redirect("monitoring:monitor_edit", model.name, saved.pk)
    status = 400 if form.is_bound else 200
    context = {"model": model, "form": form, "monitor": monitor}
    return render(request, "monitoring/monitor_form.html", context, status=status)


@login_required
@require_POST
def monitor_run(request, name, pk):
    model = _manageable_model(request, name)
    monitor = _monitor_of(model, pk)
    runs = monitors.run_now(actor=request.user, monitor=monitor)
    if runs:
        messages.success(request, f"Asked for {len(runs)} evaluation(s) of {monitor.name}.")
    else:
        messages.info(request, "Nothing to evaluate: no production batch in the window.")
    return redirect("monitoring:monitor_edit", model.name, monitor.pk)


@login_required
@require_POST
def monitor_delete(request, name, pk):
    model = _manageable_model(request, name)
    monitor = _monitor_of(model, pk)
    monitors.delete_monitor(actor=request.user, monitor=monitor)
    messages.success(request, f"Deleted monitor {monitor.name} and its schedule.")
    return redirect("registry:model_detail", model.name)


class DigestForm(forms.Form):
    frequency = forms.ChoiceField(
        choices=DigestFrequency.choices,
        widget=forms.RadioSelect,
        label="The monitoring e-mail about the models you watch",
    )


@login_required
def digest_settings(request):
    current = DigestPreference.objects.filter(user=request.user).first()
    initial = {"frequency": current.frequency if current else DigestFrequency.WEEKLY}
    form = DigestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        digest.set_frequency(actor=request.user, frequency=form.cleaned_data["frequency"])
        messages.success(request, "Saved how often the monitoring e-mail comes.")
        return redirect("monitoring:digest_settings")
    return render(request, "monitoring/digest_settings.html", {"form": form})
