// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // <form data-confirm="Question?">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // <button data-copy-from="id">: copy that element's text (an input's value), and say so.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-from]");
    if (!button || button.textContent === "Copied") return;
    var source = document.getElementById(button.getAttribute("data-copy-from"));
    var isInput = source.tagName === "INPUT";
    if (isInput) {
      source.select();
    } else {
      window.getSelection().selectAllChildren(source);
    }
    var label = button.innerHTML;
    var show = function (text) {  // until the button loses focus, ready to copy again
      button.textContent = text;
      button.addEventListener("blur", function () { button.innerHTML = label; }, { once: true });
    };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(isInput ? source.value : source.textContent).then(
        function () { show("Copied"); },
        function () { show("Press Ctrl+C"); }
      );
    } else {
      show(document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
    }
  });
})();
