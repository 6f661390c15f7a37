// SpamLedger console: slow sections loaded after first paint, and evidence drag-and-drop
// with limits checked before upload. Everything works without this script (each slow
// section has a no-script link that renders it inline).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  Array.prototype.forEach.call(document.querySelectorAll("[data-fragment]"), function (el) {
    fetch(el.dataset.fragment, {credentials: "same-origin"}).then(function (response) {
      return response.text().then(function (text) {
        if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
        el.innerHTML = text;  // server-rendered, escaped HTML from this origin
      });
    }).catch(function (err) {
      el.textContent = "Could not load this section: " + err.message + ". Reload the page.";
    }).then(function () { el.setAttribute("aria-busy", "false"); });
  });
});

document.addEventListener("DOMContentLoaded", function () {
  var input = document.getElementById("evidence");
  var zone = document.getElementById("drop");
  var list = document.getElementById("chosen");
  var submit = document.getElementById("file-dispute");
  if (!input || !zone || !list) { return; }
  var maxBytes = parseInt(input.dataset.maxBytes, 10);
  var maxFiles = parseInt(input.dataset.maxFiles, 10);
  var types = (input.dataset.types || "").split(",");

  function show() {
    list.textContent = "";
    var problems = 0;
    var files = Array.prototype.slice.call(input.files || []);
    if (files.length > maxFiles) { problems += 1; }
    files.forEach(function (f) {
      var li = document.createElement("li");
      var why = "";
      if (f.size > maxBytes) { why = " — too large (limit " + maxBytes + " bytes)"; }
      else if (f.size === 0) { why = " — empty"; }
      else if (types.indexOf(f.type) < 0) { why = " — type " + (f.type || "unknown") + " not accepted"; }
      if (why) { li.className = "bad"; problems += 1; }
      li.textContent = f.name + " (" + f.size + " bytes)" + why;
      list.appendChild(li);
    });
    if (files.length > maxFiles) {
      var li = document.createElement("li");
      li.className = "bad";
      li.textContent = files.length + " files: at most " + maxFiles;
      list.appendChild(li);
    }
    if (submit) { submit.disabled = problems > 0; }
  }
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
  });
});
