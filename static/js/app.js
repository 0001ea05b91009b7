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

  // A form sent back with mistakes: take keyboard and screen-reader users to the summary
  // at the top of the page, whatever the page and wherever on it the form is.
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
