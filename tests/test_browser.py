"""The editors' admin in a real browser: Debian's Chromium driven by Playwright against the live server.

Set SAVE_SCREENSHOTS=1 to write the README's screenshots into docs/.
"""
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tasks.models import ScheduledTask
from worker.engine import run_tick

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[1] / "docs"
PASSWORD = "browser-tests-only-1"

if not CHROMIUM.exists() and os.environ.get("REQUIRE_BROWSER"):
    raise RuntimeError(f"REQUIRE_BROWSER is set (as in .ci/run) but {CHROMIUM} is missing")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no browser: {CHROMIUM} is missing (apt-get install chromium chromium-driver; .ci/run does)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make test installs it)")
    # Playwright's sync API keeps an event loop running in this thread; Django's ORM calls in the tests
    # are still synchronous, so its async-safety check is turned off while the browser lives.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page, username):
    page.goto("/admin/login/?next=/admin/tasks/scheduledtask/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/tasks/scheduledtask/$"))


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_superuser("editor", "editor@example.com", PASSWORD)


def screenshot(page, name):
    if os.environ.get("SAVE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name), full_page=True)


def test_a_task_at_0900_berlin_shows_0900_is_0700_utc_in_dynamodb_and_never_moves(page, editor, store, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    log_in(page, "editor")
    page.click("text=Add scheduled task")
    page.fill("#id_content_id", "film-138029")
    page.select_option("#id_action", "publish")
    page.fill("#id_due_at_0", "2027-07-01")
    page.fill("#id_due_at_1", "09:00:00")
    page.fill("#id_payload", '{"territory": "DE"}')
    assert page.text_content(".timezone") == "Europe/Berlin"
    screenshot(page, "admin-form.png")
    page.click("input[name=_save]")
    page.wait_for_selector("text=was added successfully")
    row = page.locator("#result_list tbody tr", has_text="film-138029")
    assert "2027-07-01 09:00 CEST" in row.inner_text()
    task = ScheduledTask.objects.get()
    assert store.get(task.pk)["scheduled_for"] == "2027-07-01T07:00:00Z"
    for _ in range(3):
        page.goto(f"/admin/tasks/scheduledtask/{task.pk}/change/")
        assert page.input_value("#id_due_at_1") == "09:00:00"
        page.click("input[name=_save]")
        page.wait_for_selector("text=was changed successfully")
    task.refresh_from_db()
    assert task.due_at.isoformat() == "2027-07-01T07:00:00+00:00" and task.version == 1
    assert store.get(task.pk)["scheduled_for"] == "2027-07-01T07:00:00Z"


def test_a_due_task_shows_done_after_a_tick_and_a_cancel_reaches_dynamodb(page, editor, store, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    due = ScheduledTask.objects.create(content_id="film-due", action="publish", due_at=timezone.now() - timedelta(seconds=1))
    later = ScheduledTask.objects.create(content_id="film-later", action="withdraw", due_at=timezone.now() + timedelta(days=2))
    ScheduledTask.objects.create(content_id="clip-next-week", action="publish", due_at=timezone.now() + timedelta(days=6))
    log_in(page, "editor")
    assert run_tick(now=timezone.now())["done"] == 1
    page.reload()
    assert "Done" in page.locator("#result_list tbody tr", has_text="film-due").inner_text()
    page.locator("#result_list tbody tr", has_text="film-later").locator("input.action-select").check()
    page.select_option("select[name=action]", "cancel_selected")
    page.click("button[name=index]")
    page.wait_for_selector("text=1 task(s) cancelled.")
    assert store.get(later.pk)["status"] == "cancelled" and store.get(due.pk)["status"] == "done"
    assert "Cancelled" in page.locator("#result_list tbody tr", has_text="film-later").inner_text()
    screenshot(page, "admin-list.png")


def test_a_view_only_user_sees_no_controls_and_a_direct_post_is_refused(page, django_user_model, store):
    from django.contrib.auth.models import Permission

    reader = django_user_model.objects.create_user("reader", password=PASSWORD, is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_scheduledtask"))
    task = ScheduledTask.objects.create(content_id="film-1", action="publish", due_at=timezone.now() + timedelta(days=3))
    log_in(page, "reader")
    assert page.locator("text=Add scheduled task").count() == 0
    assert page.locator("select[name=action]").count() == 0
    page.goto(f"/admin/tasks/scheduledtask/{task.pk}/change/")
    assert page.locator("input[name=_save]").count() == 0 and page.locator("#id_due_at_0").count() == 0
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(f"/admin/tasks/scheduledtask/{task.pk}/change/", form={
        "csrfmiddlewaretoken": token, "content_id": "film-1", "action": "withdraw",
        "due_at_0": "2027-01-01", "due_at_1": "09:00:00", "payload": "{}", "key": ""})
    assert response.status == 403
    task.refresh_from_db()
    assert task.action == "publish" and task.version == 1


def test_the_upcoming_page_lists_tomorrows_items_under_tomorrow(page, editor, store, settings):
    settings.TIME_ZONE = "Europe/London"
    tomorrow = timezone.localtime(timezone.now() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    ScheduledTask.objects.create(content_id="film-tomorrow", action="publish", due_at=tomorrow)
    ScheduledTask.objects.create(content_id="film-tomorrow", action="withdraw", due_at=tomorrow + timedelta(hours=8))
    ScheduledTask.objects.create(content_id="clip-later", action="publish", due_at=tomorrow + timedelta(days=4))
    log_in(page, "editor")
    page.click("text=Upcoming 30 days")
    section = page.locator(f"section[data-day='{tomorrow:%Y-%m-%d}']")
    assert f"{tomorrow:%A} {tomorrow.day} {tomorrow:%B %Y}" in section.locator("h2").inner_text()
    assert "1 publish, 1 withdraw" in section.locator("h2").inner_text()
    assert section.locator("a", has_text="film-tomorrow").count() == 2
    section.locator("a", has_text="film-tomorrow").first.click()
    page.wait_for_selector("#id_content_id")
    assert page.input_value("#id_content_id") == "film-tomorrow"
    page.go_back()
    screenshot(page, "admin-upcoming.png")
