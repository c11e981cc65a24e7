// Threads with htmx: a comment the server refuses shows why beside its form (the text typed
// stays), and a thread once started empties the form that started it. Without this file (or
// without JavaScript) the forms post and come back to the page with a message.
(function () {
  "use strict";
  if (window.vettedThreads) return;  // the thread templates may be included more than once
  window.vettedThreads = true;

  function inDiscussion(element) {
    return element && element.closest && element.closest("[data-discussion]");
  }

  // A 400 from a thread form carries the reason, retargeted to the form's error box.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (event.detail.xhr.status === 400 && inDiscussion(form)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    var started = event.detail.xhr.status >= 200 && event.detail.xhr.status < 300;
    if (!started || !inDiscussion(form) || !form.hasAttribute("data-reset-on-success")) return;
    form.reset();
    var errors = form.querySelector("[data-errors]");
    if (errors) errors.textContent = "";
  });
})();
