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
