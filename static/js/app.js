// Boundaries: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Buttons that copy a script's words: <button data-copy-target="id">.
  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copyTarget);
      const status = document.getElementById(button.dataset.copyStatus || "");
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        if (status) status.textContent = "Copied.";
      } catch {
        if (status) status.textContent = "Could not copy: select the words and copy them.";
      }
    });
  });

  // Messages after a redirect ("Review saved."): a live region is read out when its
  // content changes, not when the page arrives with it filled. Fill the empty one once
  // the page has loaded, and hide the copy on show from screen readers (read once).
  const messages = document.getElementById("messages");
  const announcer = document.getElementById("messages-announced");
  if (messages && announcer) {
    const text = Array.from(messages.children, (item) => item.textContent.trim()).join(" ");
    messages.setAttribute("aria-hidden", "true");
    setTimeout(() => { announcer.textContent = text; }, 500);
  }

  // A form sent back with mistakes: take keyboard and screen-reader users to the summary
  // at the top of the page, whatever the page and wherever on it the form is.
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
