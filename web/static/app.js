// Small helpers for the admin pages; everything works without them except the refresh.
"use strict";

// Self-refresh: fetch this very URL (so filters stay) and swap the [data-live] part,
// unless the user is busy with it (a focused field, ticked boxes, an open <details>).
function startRefresh() {
  const main = document.querySelector("main[data-refresh]");
  const live = document.querySelector("[data-live]");
  if (!main || !live) return;
  const seconds = Number(main.dataset.refresh);
  if (!(seconds > 0)) return;
  let paused = false;
  const toggle = document.querySelector("[data-refresh-toggle]");
  if (toggle) {
    toggle.addEventListener("click", () => {
      paused = !paused;
      toggle.textContent = paused ? "Resume refresh" : "Pause refresh";
    });
  }
  const busy = () =>
    paused ||
    document.hidden ||
    live.contains(document.activeElement) ||
    live.querySelector("input[type=checkbox]:checked") !== null;
  setInterval(async () => {
    if (busy()) return;
    try {
      const response = await fetch(window.location.href, { headers: { "X-Refresh": "1" } });
      if (!response.ok || response.redirected) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector("[data-live]");
      if (fresh && !busy()) live.replaceChildren(...fresh.childNodes);
    } catch (error) {
      // Offline for a moment: the next tick tries again.
    }
  }, seconds * 1000);
}

function confirmForms() {
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

function selectAll() {
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-select-all]")) return;
    const form = event.target.closest("form");
    form.querySelectorAll("input[name=ids]").forEach((box) => { box.checked = event.target.checked; });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  startRefresh();
  confirmForms();
  selectAll();
});
