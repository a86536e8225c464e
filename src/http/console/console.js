// tokend console: small progressive enhancements. Every page works
// without this file: it adds copying, downloading, confirmations and local
// times, nothing a form needs.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Times in the browser's zone; UTC stays in the title.
  for (const el of document.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(at.getTime())) {
      el.textContent = at.toLocaleString();
      el.title = el.getAttribute("datetime");
    }
  }
  // Copy a field's value.
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
      } catch (_) {
        document.execCommand("copy");
      }
      button.textContent = "Copied";
    });
  }
  // Download a field's value as a file.
  for (const button of document.querySelectorAll("[data-download]")) {
    button.addEventListener("click", () => {
      const field = document.getElementById(button.dataset.download);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([field.value + "\n"], { type: "text/plain" }));
      link.download = button.dataset.filename || "token.txt";
      link.click();
      URL.revokeObjectURL(link.href);
    });
  }
  // Ask before a button that cannot be undone.
  for (const button of document.querySelectorAll("[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
});
