// trapline web interface: the little behaviour a page needs, no inline scripts (CSP).
// Forms with data-confirm ask before they submit (deleting, switching a feed off).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  var button = form.querySelector("button[type=submit]");
  if (button && !button.disabled) {
    // one submission per click; re-enabled if the page stays (bfcache)
    window.setTimeout(function () { button.disabled = true; }, 0);
    window.addEventListener("pageshow", function () { button.disabled = false; }, { once: true });
  }
});

// The restarting page (POST /settings/restart): wait for another start of the service to
// answer (its boot id differs), then open Settings there. When the web interface moves to
// another address (not this origin: no fetch there), wait until this one stops answering,
// give the new start a few seconds, then go.
(function () {
  var box = document.getElementById("restart-wait");
  if (!box) return;
  var boot = box.getAttribute("data-boot");
  var status = box.getAttribute("data-status");
  var next = box.getAttribute("data-next");
  var moved = box.getAttribute("data-moved");
  var state = document.getElementById("restart-state");
  var tries = 0;
  function say(text) { if (state) state.textContent = text; }
  function poll() {
    tries += 1;
    fetch(status, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!moved && answer && answer.boot && answer.boot !== boot) {
          say("The service is back.");
          window.location.assign(next);
          return;
        }
        say(moved ? "The old address still answers…" : "Waiting for the service…");
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        if (moved) {
          say("The old address stopped answering; opening the new one…");
          window.setTimeout(function () { window.location.assign(moved); }, 4000);
          return;
        }
        say("The service is starting (" + tries + " s)…");
        window.setTimeout(poll, 1000);
      });
  }
  window.setTimeout(poll, 1000);
})();
