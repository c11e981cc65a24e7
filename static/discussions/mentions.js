// @mentions in comment boxes (textarea[data-mentions]): type @ and the start of a team member's
// user name, then pick from the list with the arrow keys and Enter or Tab, or with the mouse;
// Escape closes it. The list comes from the address in data-mentions (the API's
// /api/v1/threads/mentionable/). Without this file a mention is simply typed out.
(function () {
  "use strict";
  if (window.vettedMentions) return;  // the thread templates may be included more than once
  window.vettedMentions = true;

  var BEFORE_CARET = /(^|[^\w.+@-])@([\w.+-]{0,150})$/;
  var list = null;  // the one suggestion list, placed under the box being typed in
  var box = null;  // that box
  var people = [];
  var active = -1;
  var pending = null;
  var timer = null;

  function typedMention(textarea) {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = BEFORE_CARET.exec(before);
    if (!match || textarea.selectionStart !== textarea.selectionEnd) return null;
    return { prefix: match[2], start: before.length - match[2].length - 1 };
  }

  function makeList() {
    list = document.createElement("ul");
    list.id = "mention-suggestions";
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Team members to mention");
    list.hidden = true;
    // Picking with the mouse must not take the focus from the box.
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) pick(Number(option.getAttribute("data-index")));
    });
  }

  function close() {
    if (pending) pending.abort();
    pending = null;
    people = [];
    active = -1;
    if (list) {
      list.hidden = true;
      list.textContent = "";
    }
    if (box) box.removeAttribute("aria-activedescendant");
  }

  function mark(index) {
    active = index;
    Array.prototype.forEach.call(list.children, function (option, position) {
      option.setAttribute("aria-selected", position === index ? "true" : "false");
    });
    box.setAttribute("aria-activedescendant", "mention-option-" + index);
  }

  function show(textarea, found) {
    if (!list) makeList();
    box = textarea;
    people = found;
    list.textContent = "";
    found.forEach(function (person, index) {
      var option = document.createElement("li");
      option.id = "mention-option-" + index;
      option.setAttribute("role", "option");
      option.setAttribute("data-index", String(index));
      var name = document.createElement("strong");
      name.textContent = "@" + person.username;
      option.appendChild(name);
      if (person.name) option.appendChild(document.createTextNode(" " + person.name));
      list.appendChild(option);
    });
    textarea.insertAdjacentElement("afterend", list);
    textarea.setAttribute("aria-controls", list.id);
    list.hidden = false;
    mark(0);
  }

  function pick(index) {
    var typed = box && typedMention(box);
    var person = people[index];
    if (!typed || !person) {
      close();
      return;
    }
    var inserted = "@" + person.username + " ";
    var caret = box.selectionStart;
    box.value = box.value.slice(0, typed.start) + inserted + box.value.slice(caret);
    var at = typed.start + inserted.length;
    box.setSelectionRange(at, at);
    close();
    box.focus();
  }

  function suggest(textarea) {
    var typed = typedMention(textarea);
    if (!typed) {
      close();
      return;
    }
    if (pending) pending.abort();
    var request = new AbortController();
    pending = request;
    var url = textarea.getAttribute("data-mentions") + "&prefix=" + encodeURIComponent(typed.prefix);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", signal: request.signal })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (found) {
        if (pending !== request || document.activeElement !== textarea) return;
        pending = null;
        if (found.length) {
          show(textarea, found);
        } else {
          close();
        }
      })
      .catch(function () { /* aborted by newer typing, or offline: no suggestions */ });
  }

  document.addEventListener("input", function (event) {
    var textarea = event.target;
    if (!textarea.matches || !textarea.matches("textarea[data-mentions]")) return;
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { suggest(textarea); }, 120);
  });

  document.addEventListener("keydown", function (event) {
    if (event.target !== box || !list || list.hidden || !people.length) return;
    if (event.key === "ArrowDown") {
      mark((active + 1) % people.length);
    } else if (event.key === "ArrowUp") {
      mark((active - 1 + people.length) % people.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      pick(active);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
  });

  document.addEventListener("focusout", function (event) {
    if (event.target === box) close();
  });
})();
