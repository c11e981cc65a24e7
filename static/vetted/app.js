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

  // A form that sends a file: how much has gone up, then that the server is checking it; the
  // answer (the next page, or the form with its errors) replaces this page as a post would.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.enctype !== "multipart/form-data") return;
    var inputs = form.querySelectorAll('input[type="file"]');
    var sending = Array.prototype.some.call(inputs, function (input) {
      return input.files && input.files.length > 0;
    });
    if (!sending) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) {
      data.append(event.submitter.name, event.submitter.value);
    }
    var buttons = form.querySelectorAll("button, input[type=submit]");
    var status = document.createElement("div");
    status.className = "upload-progress";
    status.setAttribute("role", "status");
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    var text = document.createElement("span");
    text.textContent = "Uploading…";
    status.append(bar, text);
    form.append(status);
    var megabytes = function (bytes) { return (bytes / 1048576).toFixed(1); };
    var setBusy = function (busy) {
      Array.prototype.forEach.call(buttons, function (button) { button.disabled = busy; });
    };
    setBusy(true);
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) return;
      bar.value = Math.round((100 * progress.loaded) / progress.total);
      text.textContent = "Uploading " + bar.value + "% · " + megabytes(progress.loaded) +
        " of " + megabytes(progress.total) + " MB";
    });
    request.upload.addEventListener("load", function () {
      bar.removeAttribute("value");  // indeterminate: the server reads and checks the file now
      text.textContent = "Uploaded; checking and storing the file…";
    });
    request.addEventListener("load", function () {
      window.history.replaceState(null, "", request.responseURL);
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", function () {
      status.classList.add("upload-progress--failed");
      text.textContent = "The upload stopped: the connection to Vetted failed. Try again.";
      setBusy(false);
    });
    request.send(data);
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
