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
