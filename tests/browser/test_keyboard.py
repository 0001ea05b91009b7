"""Keyboard only, at phone width: the core journeys done with Tab, typing, Enter, Space
and the arrow keys, and the focus indicator checked at every Tab stop of the incident
form. Signing in uses the shared helpers; after that nothing is clicked or filled.

Each journey moves with ``tab_to``, which presses Tab until the wanted control has focus
and fails if it never does: a control taken out of the Tab order, a keyboard trap, or
focus dropped to the page after a dynamic change all fail the journey where they happen.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Incident, IncidentEvent, PersonResponse, Status
from tests.browser.conftest import sign_in, ward_with_supervisor
from tests.browser.test_filing import ward  # noqa: F401 (fixture: a ward, nurse, script)
from tests.browser.test_navigation import second_step
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Enough to walk the whole incident form (date and time fields take several stops each).
MAX_TABS = 120


# --- Helpers -------------------------------------------------------------------------------


def has_focus(page, selector: str) -> bool:
    return page.evaluate(
        "s => document.activeElement !== null && document.activeElement.matches(s)", selector
    )


def describe_focus(page) -> str:
    return page.evaluate(
        """() => {
            const e = document.activeElement;
            if (!e) return "nothing";
            const name = e.getAttribute("name");
            return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                + (name ? `[name=${name}]` : "")
                + (e.innerText ? ` "${e.innerText.trim().slice(0, 40)}"` : "");
        }"""
    )


def tab_to(page, selector: str, *, limit: int = MAX_TABS) -> None:
    """Press Tab until the element matching ``selector`` has focus."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if has_focus(page, selector):
            return
        seen.append(describe_focus(page))
    pytest.fail(
        f"{selector} never received focus in {limit} presses of Tab; focus went: "
        + " > ".join(dict.fromkeys(seen)),
        pytrace=False,
    )


def assert_focus(page, selector: str, why: str) -> None:
    assert has_focus(page, selector), f"{why}: focus is on {describe_focus(page)}"


def arrow_to_radio(page, name: str, value: str) -> None:
    """In a radio group that has focus, press the down arrow until ``value`` is chosen."""
    for _ in range(10):
        if has_focus(page, f"input[type=radio][name={name}][value={value}]:checked"):
            return
        page.keyboard.press("ArrowDown")
    pytest.fail(f"The arrow keys never chose {name}={value}", pytrace=False)


# What the focused element looks like once its transitions have run (Bootstrap fades
# box-shadows in over 0.15 s, so the style read at once would be the starting one).
FOCUS_STYLE_JS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  e.getAnimations().forEach((a) => a.finish());
  const style = getComputedStyle(e);

  function rgba(text) {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function over(top, bottom) {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
  }
  function luminance(c) {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function contrast(a, b) {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  }
  // What the indicator is drawn against: the nearest painted background outside it.
  let background = [255, 255, 255, 1];
  for (let node = e.parentElement; node; node = node.parentElement) {
    const c = rgba(getComputedStyle(node).backgroundColor);
    if (c && c[3] > 0) { background = over(c, [255, 255, 255, 1]); break; }
  }

  const parts = [];
  const outlineWidth = parseFloat(style.outlineWidth) || 0;
  if (style.outlineStyle === "auto") {
    parts.push({kind: "outline", css: "auto (the browser's own ring)", contrast: 21});
  } else if (style.outlineStyle !== "none" && outlineWidth > 0) {
    const c = rgba(style.outlineColor);
    const css = `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`;
    if (c && c[3] > 0) {
      parts.push({kind: "outline", css, contrast: contrast(over(c, background), background)});
    }
  }
  if (style.boxShadow !== "none") {
    for (const shadow of style.boxShadow.split(/,(?![^(]*\\))/)) {
      const c = rgba(shadow);
      const numbers = shadow.replace(/rgba?\\([^)]*\\)/, "").match(/-?[\\d.]+px/g) || [];
      const lengths = numbers.map(parseFloat);
      const [x = 0, y = 0, blur = 0, spread = 0] = lengths;
      if (!c || c[3] === 0 || (spread <= 0 && blur <= 0 && x === 0 && y === 0)) continue;
      parts.push({kind: "box-shadow", css: shadow.trim(),
                  contrast: contrast(over(c, background), background)});
    }
  }
  const name = e.getAttribute("name");
  return {
    key: e.id || (name ? `${name}=${e.value}` : "") || `${e.tagName} ${e.innerText.trim()}`,
    label: e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
           (e.innerText && e.innerText.trim() ? ` "${e.innerText.trim().slice(0, 30)}"` : ""),
    inForm: !!e.closest("#incident-form"),
    focusVisible: e.matches(":focus-visible"),
    parts,
    best: Math.max(0, ...parts.map((p) => p.contrast)),
    background: `rgb(${background.slice(0, 3).map(Math.round).join(", ")})`,
  };
}"""

# Every control of the incident form a person can use: shown, enabled, not a hidden input;
# of a radio group, the one Tab stops on (the chosen one, else the first).
FORM_CONTROLS_JS = """() => Array.from(
  document.querySelectorAll("#incident-form :is(input, select, textarea, button, a[href])")
).filter((e) => {
  if (e.type === "hidden" || e.disabled || e.getClientRects().length === 0) return false;
  if (e.type !== "radio") return true;
  const group = `#incident-form input[type=radio][name="${e.name}"]`;
  return e === (document.querySelector(`${group}:checked`) || document.querySelector(group));
}).map((e) => {
  const name = e.getAttribute("name");
  return e.id || (name ? `${name}=${e.value}` : "") || `${e.tagName} ${e.innerText.trim()}`;
})"""


def walk_tab_order(page) -> list[dict]:
    """Tab from the top of the page until focus comes back round to the first stop."""
    stops = []
    first = None
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUS_STYLE_JS)
        if stop is None:  # the document itself, between the last stop and the first
            continue
        if first is None:
            first = stop["key"]
        elif stop["key"] == first:
            return stops
        stops.append(stop)
    pytest.fail(
        f"Focus never came back to the top after {MAX_TABS} presses of Tab (a keyboard "
        f"trap?); the last stops: {[s['label'] for s in stops[-6:]]}",
        pytrace=False,
    )


def type_date(page, day) -> None:
    """Type ``day`` into the focused date field, its parts in the order shown.

    Chromium draws date fields in its own locale (month first in en-US, day first in
    en-GB), not the page's: the order is read from the accessibility tree, where each
    part of the first date field on the page is a spin button named Day, Month or Year."""
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    names = [
        (node.get("name", {}).get("value") or "").split(" ")[0]
        for node in nodes
        if node.get("role", {}).get("value") == "spinbutton"
    ]
    parts = [name for name in names if name in ("Day", "Month", "Year")][:3]
    assert sorted(parts) == ["Day", "Month", "Year"], f"date field parts: {names}"
    codes = {"Day": "%d", "Month": "%m", "Year": "%Y"}
    page.keyboard.type(day.strftime("".join(codes[part] for part in parts)))


def open_new_report_form(page, base_url: str) -> None:
    sign_in(page, base_url, "nurse")
    tab_to(page, '#main a[href="/incidents/new/"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Report an incident")


def wait_for_the_ladder(page, before_change) -> None:
    """The ladder is fetched again when the channel changes: wait for the answer to the
    latest choice to be on the page (not one that is about to be replaced)."""
    page.wait_for_function(
        """(old) => {
            const section = document.getElementById("ladder-section");
            const button = document.querySelector("#ladder [data-script-version]");
            return !section.hidden && button !== null && (old === null || !old.isConnected);
        }""",
        arg=before_change,
    )


# --- 1. A nurse files a complete incident ----------------------------------------------------


def test_a_nurse_files_a_complete_incident_by_keyboard_alone(page, live_server, ward):  # noqa: F811
    open_new_report_form(page, live_server.url)
    day = timezone.localdate() - timedelta(days=1)

    # When and where: yesterday at half past nine in the morning. "A" is for a 12-hour
    # clock's AM part, and ignored by a 24-hour one.
    tab_to(page, "#id_occurred_date")
    type_date(page, day)
    assert page.locator("#id_occurred_date").input_value() == day.isoformat()
    tab_to(page, "#id_occurred_time")
    page.keyboard.type("0930A")
    assert page.locator("#id_occurred_time").input_value() == "09:30"
    tab_to(page, "#id_unit")  # the nurse's only unit, already chosen
    tab_to(page, "#id_location")
    page.keyboard.type("Bay 3")

    # Who: Tab enters the radio group on the chosen answer (Patient, the default); the
    # arrow keys go to "Someone else" and back.
    tab_to(page, "input[name=other_party]")
    assert_focus(page, "input[name=other_party][value=patient]", "Tab into 'Who was it?'")
    page.keyboard.press("ArrowUp")  # wraps round to the last choice
    assert_focus(page, "input[name=other_party][value=other]:checked", "ArrowUp on 'Patient'")
    page.keyboard.press("ArrowDown")
    assert_focus(page, "input[name=other_party][value=patient]:checked", "ArrowDown")
    tab_to(page, "#id_patient_reference")
    page.keyboard.type("943 476 5919")

    # What happened: drop-downs chosen by typing the start of an option.
    tab_to(page, "#id_request_type")
    page.keyboard.type("Friend")
    tab_to(page, "#id_channel")
    old_ladder = page.evaluate_handle("document.querySelector('#ladder [data-script-version]')")
    page.keyboard.type("Social")
    assert page.locator("#id_request_type").input_value() == "social-media"
    assert page.locator("#id_channel").input_value() == "social-media"
    tab_to(page, "#id_description")
    page.keyboard.type("Her son sent me a friend request and asked to meet for coffee.")

    # The script ladder: "Use these words" chooses the script in the drop-down and takes
    # focus there, so the nurse carries on from the field that changed.
    wait_for_the_ladder(page, old_ladder)
    tab_to(page, f'#ladder button[data-script-version="{ward.pk}"]')
    page.keyboard.press("Enter")
    assert_focus(page, "#id_script_version", "After 'Use these words'")
    assert page.locator("#id_script_version").input_value() == str(ward.pk)

    # How they responded: arrow keys move through the radio group.
    tab_to(page, "input[name=person_response]")
    arrow_to_radio(page, "person_response", PersonResponse.ASKED_AGAIN)
    tab_to(page, "input[name=actions][value=ended_interaction]")
    page.keyboard.press("Space")

    # Witnesses: the first row is there; "Add a witness" adds a row and focuses it.
    tab_to(page, "#id_witnesses-0-name")
    page.keyboard.type("Dee Rosevear")
    tab_to(page, "#id_witnesses-0-role")
    page.keyboard.type("Staff")
    tab_to(page, "#add-witness")
    page.keyboard.press("Enter")
    assert_focus(page, "#id_witnesses-1-name", "After 'Add a witness'")
    page.keyboard.type("Fen Polwarth")
    tab_to(page, "#id_witnesses-1-role")
    page.keyboard.type("Visitor")

    tab_to(page, 'button[type=submit][value="submit"]')
    # The page saves the draft once more (is the person still signed in?), then sends.
    with page.expect_navigation(url=f"{live_server.url}/incidents/*/filed/"):
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")

    incident = Incident.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report received")
    expect(page.get_by_text(incident.reference)).to_be_visible()
    assert timezone.localtime(incident.occurred_at).date() == day
    assert timezone.localtime(incident.occurred_at).strftime("%H:%M") == "09:30"
    assert incident.location == "Bay 3"
    assert incident.other_party == "patient"
    assert incident.patient.reference == "9434765919"
    assert incident.request_type.code == "social-media"
    assert incident.channel.code == "social-media"
    assert incident.description.startswith("Her son sent me a friend request")
    assert incident.script_version == ward
    assert incident.words_used == ward.text
    assert incident.person_response == PersonResponse.ASKED_AGAIN
    assert incident.ended_interaction
    assert [(w.name, w.role) for w in incident.witnesses.all()] == [
        ("Dee Rosevear", "staff"),
        ("Fen Polwarth", "visitor"),
    ]


def test_a_nurse_picks_a_script_or_her_own_words_from_the_drop_down(page, live_server, ward):  # noqa: F811
    """Without the ladder: the drop-down by arrow keys, then back to "My own words",
    which brings back the box for them, next in the Tab order."""
    open_new_report_form(page, live_server.url)
    tab_to(page, "#id_script_version")
    page.keyboard.press("ArrowDown")
    assert page.locator("#id_script_version").input_value() == str(ward.pk)
    expect(page.locator("#id_own_words")).to_be_hidden()

    page.keyboard.press("Home")
    assert page.locator("#id_script_version").input_value() == ""
    page.keyboard.press("Tab")
    assert_focus(page, "#id_own_words", "Tab after choosing 'My own words'")
    words = "I said I keep my social media to family."
    page.keyboard.type(words)
    assert page.locator("#id_own_words").input_value() == words


# --- 2. A supervisor reviews an incident -----------------------------------------------------


@pytest.fixture
def queue():
    _, nurse = ward_with_supervisor()
    return IncidentFactory(reporter=nurse)


def test_a_supervisor_reviews_an_incident_from_the_queue_by_keyboard(page, live_server, queue):
    sign_in(page, live_server.url, "supervisor")
    second_step(page, "supervisor")
    assert page.url == f"{live_server.url}/review/"

    tab_to(page, f'table a[href^="/incidents/{queue.pk}/"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Incident {queue.reference}")

    # Status: Tab enters the group on the chosen status; the arrow moves it on.
    tab_to(page, "#review input[name=status]")
    assert_focus(page, "input[name=status][value=submitted]", "Tab into 'Status'")
    arrow_to_radio(page, "status", Status.UNDER_REVIEW)
    tab_to(page, "#review input[name=actions][value=debrief_offered]")
    page.keyboard.press("Space")
    tab_to(page, "#review textarea[name=feedback]")
    page.keyboard.type("Thank you for reporting this. Let's talk at handover.")
    tab_to(page, "#review textarea[name=internal_note]")
    page.keyboard.type("Second request from this family this month.")
    tab_to(page, "#review button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")

    expect(page.get_by_text("Review saved.")).to_be_visible()
    queue.refresh_from_db()
    assert queue.status == Status.UNDER_REVIEW
    assert queue.debrief_offered
    assert queue.feedback == "Thank you for reporting this. Let's talk at handover."
    assert queue.internal_note == "Second request from this family this month."
    assert IncidentEvent.objects.filter(incident=queue).exists()


# --- 3. The focus indicator on the incident form ---------------------------------------------


def _form_stops(page, base_url: str) -> list[dict]:
    sign_in(page, base_url, "nurse")
    page.goto(f"{base_url}/incidents/new/")
    page.wait_for_load_state("load")
    page.locator("#add-witness").wait_for()  # the form's script has run
    return walk_tab_order(page)


def test_every_control_of_the_incident_form_is_reached_by_tab_and_shows_focus(
    page,
    live_server,
    ward,  # noqa: F811
):
    """Tab goes round the whole page and back to the top (no trap), reaches every control
    of the form, and each has a focus style of its own when focused by keyboard."""
    stops = _form_stops(page, live_server.url)

    controls = page.evaluate(FORM_CONTROLS_JS)
    reached = {stop["key"] for stop in stops}
    missed = [key for key in controls if key not in reached]
    assert not missed, f"Not reachable with Tab: {missed}"

    # Date and time fields take one stop per part, and one for the browser's picker
    # button (drawn by the browser, the field itself then not :focus-visible).
    visible = {}
    for stop in stops:
        if stop["inForm"] and stop["focusVisible"]:
            visible.setdefault(stop["key"], stop)
    no_focus_style = [stop["label"] for stop in visible.values() if not stop["parts"]]
    assert set(visible) >= set(controls), "some controls never showed :focus-visible"
    assert not no_focus_style, f"No outline or box-shadow when focused: {no_focus_style}"


def test_focus_indicators_on_the_incident_form_have_3_to_1_contrast(
    page,
    live_server,
    ward,  # noqa: F811
):
    """WCAG 1.4.11: the focus indicator needs 3:1 against what is around it. The app's
    own ring (app.css: yellow outline, dark halo) does; a faint tint does not."""
    stops = _form_stops(page, live_server.url)
    faint = {}
    for stop in stops:
        if stop["focusVisible"] and stop["best"] < 3:
            faint.setdefault(
                stop["key"],
                f"{stop['label']}: {[p['css'] for p in stop['parts']] or 'nothing'} "
                f"on {stop['background']}, best {stop['best']:.2f}:1",
            )
    assert not faint, "Focus indicators under 3:1 contrast:\n" + "\n".join(faint.values())


def test_focus_indicators_keep_3_to_1_on_fields_shown_with_errors(
    page,
    live_server,
    ward,  # noqa: F811
):
    """Sent back with errors, the fields to correct carry Bootstrap's error styles, whose
    focus tint is fainter still (found by a review helper: 1.64:1)."""
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    page.wait_for_load_state("load")
    page.locator("#add-witness").wait_for()
    with page.expect_navigation():
        page.evaluate("document.getElementById('incident-form').submit()")
    page.wait_for_load_state("load")
    page.locator("#add-witness").wait_for()
    assert page.locator("#incident-form .is-invalid").count() > 0
    faint = {
        stop["key"]: f"{stop['label']}: best {stop['best']:.2f}:1"
        for stop in walk_tab_order(page)
        if stop["inForm"] and stop["focusVisible"] and stop["best"] < 3
    }
    assert not faint, "Focus indicators under 3:1 on fields with errors:\n" + "\n".join(
        faint.values()
    )
