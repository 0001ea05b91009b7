// The incident form: saves a draft on the server as the reporter types, previews the
// severity, offers the script ladder for the chosen situation, and adds witness rows.
// Without this file the form still works: it submits, and "Save and finish later" saves.
"use strict";

(() => {
  const form = document.getElementById("incident-form");
  if (!form) return;

  const status = document.getElementById("autosave-status");
  const severity = document.getElementById("severity-preview");
  const DELAY_MS = 2000;
  const RETRY_MS = 10000;
  let timer = null;
  let saving = false;
  let pending = false;
  let signedOut = false;
  // Typed since the last save reached the server.
  let dirty = false;
  // Refused for good (another person's page, a role that files nothing): send nothing.
  let stopped = false;
  // The form is being sent: the page is going away, and must not save behind it.
  let sending = false;

  // One report per page, whatever the browser does with it. Going back to this page,
  // or reloading it, draws a new form (a new submission token) that the browser fills
  // with what was typed: sent, that would file the report twice, and the witness rows
  // added here would be missing. This history entry remembers its report's token, and
  // the tab remembers which reports have a draft on the server: brought back to a
  // different report that has one, go to it as the server has it (its draft, or the
  // report it became once sent).
  const token = form.elements.namedItem("submission_token").value;
  // Who the page was drawn for: a page brought back for someone else who has since
  // signed in on this browser starts afresh for them.
  const owner = form.dataset.owner;
  const visit = performance.getEntriesByType("navigation")[0];
  const remembered = history.state && history.state.report;
  const SAVED = "boundaries.report-saved:";
  function hasDraft(reportToken) {
    try {
      return sessionStorage.getItem(SAVED + reportToken) === "1";
    } catch {
      return false;  // storage refused: nothing to go back to
    }
  }
  function markSaved() {
    try {
      sessionStorage.setItem(SAVED + token, "1");
    } catch {
      // Storage refused: going back then simply shows a new form.
    }
  }
  if (visit && visit.type !== "navigate" && remembered && remembered.token !== token &&
      remembered.owner === owner && hasDraft(remembered.token)) {
    location.replace(remembered.draftUrl);
    return;
  }
  history.replaceState(
    { ...(history.state || {}), report: { token, owner, draftUrl: form.dataset.draftUrl } },
    ""
  );
  if (form.dataset.draftSaved === "true") markSaved();
  // The page this one replaced in this tab, for the same report (a reload, or Back):
  // its last save, sent as it went, may reach the server after this page was drawn,
  // and is no other tab's work.
  try {
    const PAGE = "boundaries.report-page:" + token;
    const before = sessionStorage.getItem(PAGE);
    const page = form.elements.namedItem("page").value;
    if (before && before !== page) form.elements.namedItem("page_before").value = before;
    sessionStorage.setItem(PAGE, page);
  } catch {
    // Storage refused: such a late save may then be refused as another tab's.
  }

  function cookie(name) {
    const prefix = name + "=";
    for (const part of document.cookie.split(";")) {
      const item = part.trim();
      if (item.startsWith(prefix)) return decodeURIComponent(item.slice(prefix.length));
    }
    return "";
  }

  // Signing in again (in another tab) rotates the CSRF token: the form's hidden field
  // takes the current one from the cookie before anything is sent. Django reads the
  // field before the header, so a stale field alone would refuse every save.
  function csrfToken() {
    const field = form.querySelector("input[name=csrfmiddlewaretoken]");
    const current = cookie(form.dataset.csrfCookie);
    if (current) field.value = current;
    return field.value;
  }

  // The status and the severity are live regions: a screen reader reads them out each
  // time they are rewritten, so they are only rewritten when what they say changes (not
  // after every save that finds nothing new to say).
  function say(message) {
    if (status.textContent !== message) status.textContent = message;
  }

  function signedOutMessage() {
    status.textContent = "";
    const text = document.createTextNode(
      "You have been signed out, so saving has paused. Nothing on this page is lost. "
    );
    const link = document.createElement("a");
    link.href = "/accounts/login/?next=/incidents/signed-in-again/";
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Sign in again (opens a new tab)";
    const after = document.createTextNode(", then come back here: saving carries on.");
    status.append(text, link, after);
  }

  // Saves the draft; resolves to what happened: "saved", "signed-out", "filed",
  // "offline", "failed" or "busy" (a save was already under way).
  function sendDraft(options = {}) {
    markSaved();
    // First: the form's own token field takes the current cookie, before it is read.
    const token = csrfToken();
    return fetch(form.dataset.autosaveUrl, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-CSRFToken": token },
      credentials: "same-origin",
      ...options,
    });
  }

  // Saves again after a failure, while something typed is still unsaved.
  function retryLater() {
    clearTimeout(timer);
    timer = setTimeout(() => { if (dirty && !stopped && !signedOut) save(); }, RETRY_MS);
  }

  async function save() {
    if (stopped) return "stopped";
    if (saving) {
      pending = true;
      return "busy";
    }
    saving = true;
    dirty = false;
    try {
      const response = await sendDraft();
      if (response.status === 401 || response.status === 403) {
        const refusal = await response.json().catch(() => ({}));
        if (refusal.error === "not_allowed") {
          stopped = true;
          say("Your role does not file reports, so this page is not saved.");
          return "stopped";
        }
        dirty = true;
        signedOut = true;
        signedOutMessage();
        return "signed-out";
      }
      if (response.status === 409) {
        const refusal = await response.json().catch(() => ({}));
        stopped = true;
        signedOut = false;
        if (refusal.error === "another_person" || refusal.error === "changed_elsewhere") {
          // Someone else signed in on this browser, or another tab saved this report
          // since this page opened: keep the page as it is, send nothing.
          say(refusal.message);
          return "another-person";
        }
        say("This report has already been submitted. Open a new report for a new incident.");
        return "filed";
      }
      if (response.ok) {
        const result = await response.json();
        signedOut = false;
        say(`Draft saved at ${result.saved_at}.`);
        const preview = `Severity so far: ${result.severity}.`;
        if (result.severity && severity.textContent !== preview) {
          severity.hidden = false;
          severity.textContent = preview;
        }
        return "saved";
      }
      dirty = true;
      retryLater();
      say("Could not save the draft just now; trying again in a few seconds.");
      return "failed";
    } catch {
      dirty = true;
      retryLater();
      say("No connection: the draft will be saved when the connection returns.");
      return "offline";
    } finally {
      saving = false;
      if (pending) {
        pending = false;
        schedule();
      }
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(save, DELAY_MS);
  }

  function typed() {
    dirty = true;
    schedule();
  }
  form.addEventListener("input", typed);
  form.addEventListener("change", typed);
  // Keep trying while signed out, so saving resumes after signing in in another tab.
  setInterval(() => { if (signedOut && !stopped) save(); }, 15000);
  window.addEventListener("online", () => { if (dirty && !stopped) save(); });

  // Leaving the page (Back, a link, another app, the screen locking) before the pause
  // that triggers a save: send what was typed since, in a request the browser finishes
  // after the page has gone.
  function saveOnLeaving() {
    if (!dirty || stopped || sending) return;
    clearTimeout(timer);
    dirty = false;
    sendDraft({ keepalive: true }).catch(() => { dirty = true; });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") saveOnLeaving();
  });
  window.addEventListener("pagehide", saveOnLeaving);

  // Before the form is sent, one last save confirms the person is still signed in and
  // the server can be reached. Sent after the session ended, the form would be lost to
  // the sign-in page; instead the page stays as it is, with what to do.
  let confirmed = false;
  form.addEventListener("submit", async (event) => {
    clearTimeout(timer);
    if (!confirmed) {
      event.preventDefault();
      const submitter = event.submitter;
      while (saving) await new Promise((resolve) => setTimeout(resolve, 100));
      const outcome = await save();
      if (["signed-out", "another-person", "stopped"].includes(outcome)) return;
      if (outcome === "offline") {
        say("No connection, so nothing was sent and nothing on this page is lost. " +
          "Press the button again when the connection returns.");
        return;
      }
      confirmed = true;
      form.requestSubmit(submitter);
      return;
    }
    confirmed = false;
    sending = true;
    csrfToken();
  });
  // Brought back from the browser's page cache after sending: this page may save again.
  window.addEventListener("pageshow", (event) => { if (event.persisted) sending = false; });

  // Late reports: the reason is only asked for when the date is old enough.
  const lateBox = document.getElementById("late-reason");
  const dateInput = form.elements.namedItem("occurred_date");
  const lateDays = Number(form.dataset.lateDays) || 30;
  function toggleLate() {
    const hasError = lateBox.querySelector(".is-invalid, .invalid-feedback");
    const filled = form.elements.namedItem("late_reason").value.trim() !== "";
    const when = dateInput.value ? new Date(dateInput.value + "T00:00:00") : null;
    const old = when && (Date.now() - when.getTime()) > lateDays * 86400000;
    lateBox.hidden = !(old || hasError || filled);
  }
  dateInput.addEventListener("change", toggleLate);
  toggleLate();

  // Own words are only needed when no script was chosen.
  const scriptSelect = form.elements.namedItem("script_version");
  const ownWords = form.elements.namedItem("own_words");
  const ownWordsBox = ownWords.closest(".mb-3") || ownWords.parentElement;
  function toggleOwnWords() {
    const needed = scriptSelect.value === "" || ownWords.value.trim() !== "";
    ownWordsBox.hidden = !needed;
  }
  scriptSelect.addEventListener("change", toggleOwnWords);
  toggleOwnWords();

  // The ladder of approved scripts for the chosen situation. It is not a live region:
  // read out whole at each change, every step was heard again. A short sentence in
  // #ladder-status says what changed instead, and only when that changes.
  const ladder = document.getElementById("ladder");
  const ladderSection = document.getElementById("ladder-section");
  const ladderStatus = document.getElementById("ladder-status");
  const requestType = form.elements.namedItem("request_type");
  const channelSelect = form.elements.namedItem("channel");
  let ladderRequest = 0;
  function chosenText(select) {
    const option = select.selectedOptions[0];
    return option ? option.textContent.trim() : "";
  }
  function announceLadder() {
    const count = ladder.querySelectorAll("[data-script-version]").length;
    const scripts = count === 1 ? "1 suggested script" : `${count || "No"} suggested scripts`;
    const message = `${scripts} for \u201c${chosenText(requestType)}\u201d by ` +
      `\u201c${chosenText(channelSelect)}\u201d.`;
    if (ladderStatus.textContent !== message) ladderStatus.textContent = message;
  }
  async function showLadder(event) {
    const current = ++ladderRequest;
    if (!requestType.value) {
      ladder.replaceChildren();
      ladderSection.hidden = true;
      ladderStatus.textContent = "";
      return;
    }
    try {
      const channel = channelSelect.value;
      const url = `${form.dataset.suggestionsUrl}${encodeURIComponent(requestType.value)}` +
        `/suggestions/?channel=${encodeURIComponent(channel)}`;
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok || current !== ladderRequest) return;
      const html = await response.text();
      if (current !== ladderRequest) return;  // a newer choice is on its way
      const fragment = document.createRange().createContextualFragment(html);
      fragment.querySelectorAll("script").forEach((node) => node.remove());
      ladder.replaceChildren(fragment);
      ladderSection.hidden = !ladder.querySelector("[data-script-version]");
      // Drawn for a draft as the page opens: nothing was chosen, so nothing is said.
      if (event) announceLadder();
    } catch {
      // The drop-down below still lists every script.
    }
  }
  ladder.addEventListener("click", (event) => {
    const button = event.target.closest("[data-script-version]");
    if (!button) return;
    scriptSelect.value = button.dataset.scriptVersion;
    scriptSelect.dispatchEvent(new Event("change", { bubbles: true }));
    say("Script chosen: it is selected in \u201cThe words you used\u201d.");
    scriptSelect.focus();
  });
  requestType.addEventListener("change", showLadder);
  channelSelect.addEventListener("change", showLadder);
  if (requestType.value) showLadder();

  // Witness rows, up to the form's limit.
  const addWitness = document.getElementById("add-witness");
  const template = document.getElementById("witness-template");
  const container = document.getElementById("witness-forms");
  const total = form.elements.namedItem("witnesses-TOTAL_FORMS");
  const max = Number(form.elements.namedItem("witnesses-MAX_NUM_FORMS").value);
  const limitNote = document.getElementById("witness-limit");
  // The note is a live region: filled when the last row is added, it is announced.
  function refreshWitnessButton() {
    const full = Number(total.value) >= max;
    addWitness.hidden = full;
    const note = full ? limitNote.dataset.message : "";
    if (limitNote.textContent.trim() !== note) limitNote.textContent = note;
  }
  addWitness.addEventListener("click", () => {
    const index = Number(total.value);
    const html = template.innerHTML.replaceAll("__prefix__", String(index));
    const fragment = document.createRange().createContextualFragment(html);
    fragment.querySelector("legend").textContent = `Witness ${index + 1}`;
    container.append(fragment);
    total.value = String(index + 1);
    refreshWitnessButton();
    container.lastElementChild.querySelector("input, select").focus();
  });
  refreshWitnessButton();
})();
