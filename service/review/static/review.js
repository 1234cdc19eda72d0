// Keyboard shortcuts and small conveniences for the review page. No framework; the page works without it.
(function () {
  "use strict";

  function typing(ev) {
    var t = ev.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  // -- item page ------------------------------------------------------------------------------
  var form = document.getElementById("decide-form");
  var decisionInput = document.getElementById("decision-input");

  function submitDecision(kind) {
    decisionInput.value = kind;
    form.submit();
  }

  if (form) {
    form.querySelectorAll("button[data-decision]").forEach(function (btn) {
      btn.addEventListener("click", function (ev) {
        var toggle = btn.getAttribute("data-toggle");
        var kind = btn.getAttribute("data-decision");
        if (toggle) {
          ev.preventDefault();
          var box = document.getElementById(toggle);
          if (!box.hidden && decisionInput.value === kind) {
            submitDecision(kind); // second press confirms
            return;
          }
          document.querySelectorAll("#edit-box, #fact-box, #fp-box").forEach(function (b) { b.hidden = true; });
          box.hidden = false;
          decisionInput.value = kind;
          if (toggle === "fp-box") {
            // Say how many fingerprints the confirmation will suppress (the checked findings).
            var n = document.querySelectorAll("input[data-fp]:checked").length;
            var count = document.getElementById("fp-count");
            if (count) { count.textContent = String(n); }
            return;
          }
          var first = box.querySelector("#fact-value") || box.querySelector("textarea, input");
          if (first) { first.focus(); }
        } else {
          decisionInput.value = kind;
        }
      });
    });
  }

  // Hovering a finding lights up its spans, and the other way round.
  document.querySelectorAll("[data-finding]").forEach(function (card) {
    var id = card.getAttribute("data-finding");
    var marks = document.querySelectorAll('mark[data-findings~="' + id + '"]');
    card.addEventListener("mouseenter", function () { marks.forEach(function (m) { m.classList.add("lit"); }); });
    card.addEventListener("mouseleave", function () { marks.forEach(function (m) { m.classList.remove("lit"); }); });
  });
  document.querySelectorAll("mark[data-findings]").forEach(function (mark) {
    mark.addEventListener("click", function () {
      var first = mark.getAttribute("data-findings").split(" ")[0];
      var card = document.getElementById(first);
      if (card) { card.scrollIntoView({block: "nearest"}); card.classList.add("lit"); setTimeout(function () { card.classList.remove("lit"); }, 800); }
    });
  });

  // -- queue page -----------------------------------------------------------------------------
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr"));
  var current = -1;
  function focusRow(i) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r) { r.classList.remove("current"); });
    rows[current].classList.add("current");
    rows[current].scrollIntoView({block: "nearest"});
  }
  var checkAll = document.getElementById("check-all");
  if (checkAll) {
    checkAll.addEventListener("change", function () {
      document.querySelectorAll('input[name="ids"]').forEach(function (c) { c.checked = checkAll.checked; });
    });
  }

  function click(id) { var el = document.getElementById(id); if (el) { el.click(); return true; } return false; }
  function go(id) { var el = document.getElementById(id); if (el) { window.location.href = el.href; } }

  // Bulk: the server answers with a page that names the count and asks to confirm; nothing to do here.

  var keymap = document.getElementById("keymap");
  function showKeys() { if (keymap && !keymap.open) { keymap.showModal(); } }

  document.addEventListener("keydown", function (ev) {
    if (keymap && keymap.open) { return; } // the dialog handles Esc itself
    if (ev.key === "Escape") {
      document.querySelectorAll("#edit-box, #fact-box, #fp-box").forEach(function (b) { b.hidden = true; });
      if (decisionInput) { decisionInput.value = ""; }
      if (document.activeElement) { document.activeElement.blur(); }
      return;
    }
    if (form && ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && decisionInput.value) {
      ev.preventDefault();
      submitDecision(decisionInput.value);
      return;
    }
    if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (ev.key === "?") { ev.preventDefault(); showKeys(); return; }
    if (ev.key === "/") { var search = document.getElementById("search"); if (search) { ev.preventDefault(); search.focus(); } return; }
    if (ev.key === "n") { var nextBtn = document.getElementById("next-unclaimed"); if (nextBtn) { ev.preventDefault(); nextBtn.click(); } return; }
    if (ev.key === "u") { if (click("btn-undo")) { ev.preventDefault(); } return; }
    if (form) {
      var map = {a: "btn-approve", r: "btn-reject", f: "btn-fp", e: "btn-edit", c: "btn-fact"};
      if (map[ev.key]) { ev.preventDefault(); click(map[ev.key]); return; }
      if (ev.key === "m") { var claim = document.querySelector("#claim-form button"); if (claim) { claim.click(); } return; }
    }
    if (ev.key === "j") { if (rows.length) { focusRow(current + 1); } else { go("next"); } return; }
    if (ev.key === "k") { if (rows.length) { focusRow(current - 1); } else { go("prev"); } return; }
    if (rows.length && current >= 0) {
      if (ev.key === "Enter") { var link = rows[current].querySelector("a.item-link"); if (link) { window.location.href = link.href; } }
      if (ev.key === "x") { var box = rows[current].querySelector('input[name="ids"]'); if (box) { box.checked = !box.checked; } }
    }
  });
})();
