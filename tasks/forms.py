"""The editors' task form: times in the editors' zone (named beside the field), DST checks, past-time confirmation."""
from datetime import datetime

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html

from tasks.models import ScheduledTask, registered_actions
from tasks.rows import licence_of
from tasks.times import BadTime, localize


class ZonedSplitDateTime(AdminSplitDateTime):
    """The admin's date and time inputs, with the editors' zone written beside them."""

    def render(self, name, value, attrs=None, renderer=None):
        zone = timezone.get_current_timezone()
        return format_html('{} <span class="timezone" title="the editors\' time zone">{}</span>',
                           super().render(name, value, attrs, renderer), zone.key)


class ZonedDateTimeField(forms.SplitDateTimeField):
    """A wall-clock date and time in the editors' zone; a time the clocks skip or pass twice is refused clearly."""

    widget = ZonedSplitDateTime

    def compress(self, data_list):
        if not data_list or data_list[0] in self.empty_values or data_list[1] in self.empty_values:
            return super().compress(data_list)
        try:
            return localize(datetime.combine(*data_list), timezone.get_current_timezone())
        except BadTime as exc:
            raise ValidationError(str(exc), code="dst") from None


class ScheduledTaskForm(forms.ModelForm):
    run_asap = forms.BooleanField(
        required=False, label="Run as soon as possible",
        help_text="Needed when the time has already passed: the next tick (within a minute) performs it.")

    class Meta:
        model = ScheduledTask
        fields = ("content_id", "action", "due_at", "payload", "key")
        field_classes = {"due_at": ZonedDateTimeField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "action" in self.fields:  # a view-only form has no editable fields
            self.fields["action"] = forms.ChoiceField(choices=[(a, a) for a in registered_actions()])
        if "payload" in self.fields:
            # Django would compare the payload with a hidden copy of its initial value (its default is
            # callable); the row's own value is the right comparison, and the history then names only real changes.
            self.fields["payload"].show_hidden_initial = False
        if "due_at" in self.fields:
            self.fields["due_at"].help_text = "In the editors' time zone (named beside the field)."

    def clean(self):
        cleaned = super().clean()
        due_at = cleaned.get("due_at")
        if due_at is None:
            return cleaned
        moved = self.instance._state.adding or "due_at" in self.changed_data
        if moved and due_at <= timezone.now() and not cleaned.get("run_asap"):
            self.add_error("due_at", f"{timezone.localtime(due_at):%Y-%m-%d %H:%M %Z} has already passed. Tick "
                                     "“Run as soon as possible” to run it at the next tick, or choose a later time.")
        self._check_licence_order(cleaned.get("key") or self.instance.key, cleaned.get("action"), due_at)
        return cleaned

    def _check_licence_order(self, key, action, due_at):
        licence = licence_of(key)
        partner = licence_partner(licence, action, exclude=self.instance.pk)
        if partner is None or partner.status == ScheduledTask.Status.CANCELLED:
            return
        if action == "withdraw" and due_at <= partner.due_at:
            self.add_error("due_at", f"The withdraw must come after the licence's publish, "
                                     f"{timezone.localtime(partner.due_at):%Y-%m-%d %H:%M %Z}.")
        if action == "publish" and due_at >= partner.due_at:
            self.add_error("due_at", f"The publish must come before the licence's withdraw, "
                                     f"{timezone.localtime(partner.due_at):%Y-%m-%d %H:%M %Z}.")


def licence_partner(licence, action, exclude=None):
    """Return the other task of a licence window (the withdraw of a publish, and the reverse), or None."""
    if not licence or action not in ("publish", "withdraw"):
        return None
    other = "withdraw" if action == "publish" else "publish"
    return ScheduledTask.objects.filter(key=f"licence:{licence}:{other}").exclude(pk=exclude).first()
