// Small page behaviours that htmx does not cover. No framework, no CDN.
(function () {
  "use strict";
  // htmx never swaps an error page into the document; tell the user instead.
  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("htmx-error");
    if (!box) return;
    var status = event.detail.xhr ? event.detail.xhr.status : "";
    box.textContent = "The server could not answer that request (" + status + "). Please retry.";
    box.hidden = false;
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("htmx-error");
    if (!box) return;
    box.textContent = "The portal cannot be reached. Check your connection and retry.";
    box.hidden = false;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = document.getElementById("htmx-error");
    if (box && event.detail.successful) box.hidden = true;
  });
  // Copy buttons: <button data-copy="#element-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    }
  });
})();

// Collapsible form groups remember whether they were open (a group holding a value is always
// open); the choice is kept in this browser only.
(function () {
  "use strict";
  function restore(root) {
    root.querySelectorAll("details[data-remember]").forEach(function (details) {
      if (details.hasAttribute("data-has-value")) return;
      var stored = null;
      try { stored = window.localStorage.getItem(details.getAttribute("data-remember")); } catch (e) { return; }
      if (stored !== null) details.open = stored === "open";
    });
  }
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.matches || !details.matches("details[data-remember]")) return;
    try {
      window.localStorage.setItem(details.getAttribute("data-remember"), details.open ? "open" : "closed");
    } catch (e) { /* private mode: nothing to remember */ }
  }, true);
  document.addEventListener("DOMContentLoaded", function () { restore(document); });
})();

// Result tables: "tick every row on this page" in the header, and how many distinct member
// OUSs (or projects) are ticked, beside the request button.
(function () {
  "use strict";
  function update(form) {
    var boxes = form.querySelectorAll('tbody input[type="checkbox"]');
    var ticked = new Set();
    var all = boxes.length > 0;
    boxes.forEach(function (box) {
      if (box.checked) ticked.add(box.value); else all = false;
    });
    var header = form.querySelector("input.tick-page");
    if (header) {
      header.checked = all;
      header.indeterminate = !all && ticked.size > 0;
    }
    var count = document.getElementById("ticked-count");
    if (count) {
      var unit = count.getAttribute("data-unit") || "row";
      count.textContent = ticked.size ? ticked.size + " " + unit + (ticked.size === 1 ? "" : "s") + " ticked" : "none ticked";
    }
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("#request-form");
    if (!form || event.target.type !== "checkbox") return;
    if (event.target.classList.contains("tick-page")) {
      var on = event.target.checked;
      form.querySelectorAll('tbody input[type="checkbox"]').forEach(function (box) { box.checked = on; });
    }
    update(form);
  });
})();
