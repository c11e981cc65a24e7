// Draws each <div data-figure="ID"> from the figure JSON in <script type="application/json"
// id="ID"> (Django's json_script), with the plotly.js loaded before this file. No inline code:
// the Content-Security-Policy allows none. Charts arriving in an htmx swap are drawn too.
(function () {
  "use strict";
  var CONFIG = { responsive: true, displayModeBar: false };

  function draw(root) {
    root.querySelectorAll("[data-figure]:not([data-drawn])").forEach(function (div) {
      var source = document.getElementById(div.getAttribute("data-figure"));
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      div.setAttribute("data-drawn", "");
      window.Plotly.newPlot(div, figure.data, figure.layout, CONFIG);
    });
  }

  draw(document);
  document.addEventListener("htmx:load", function (event) { draw(event.detail.elt); });
})();
