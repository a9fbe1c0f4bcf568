/* roundup-bot editors' page: small progressive enhancements.
   Every action works without this file; it only adds comfort:
   - a character counter under text boxes that have a limit,
   - Enter in the draft's search box searches instead of saving,
   - after a search, focus on the line saying how many matched; after a move,
     on the button pressed,
   - "Use my text" buttons after a conflicting save,
   - filtering the candidates table as you type,
   - dragging items by their number to reorder them (then Save),
   - a warning before leaving a draft with unsaved changes,
   - "Copy for the blog" buttons that copy the published round-up in one click. */
(function () {
  "use strict";

  function counters() {
    document.querySelectorAll("textarea[data-max]").forEach(function (box) {
      var max = parseInt(box.getAttribute("data-max"), 10);
      if (!max) { return; }
      // Not a live region: a screen reader would read the count after every key.
      // It is the box's description instead (read when the box gets focus), and
      // only crossing the limit is announced.
      var out = document.createElement("p");
      out.className = "counter";
      out.id = box.id + "-count";
      box.insertAdjacentElement("afterend", out);
      var described = box.getAttribute("aria-describedby");
      box.setAttribute("aria-describedby", (described ? described + " " : "") + out.id);
      var alert = document.createElement("p");
      alert.className = "visually-hidden";
      alert.setAttribute("role", "status");
      out.insertAdjacentElement("afterend", alert);
      var wasOver = false;
      function update() {
        var n = box.value.length;
        var over = n > max;
        out.textContent = n + " of " + max + " characters";
        out.classList.toggle("over", over);
        if (over !== wasOver) {
          alert.textContent = over ? "Over the limit of " + max + " characters." : "";
          wasOver = over;
        }
      }
      box.addEventListener("input", update);
      update();
    });
  }

  function enterSearches() {
    document.querySelectorAll("input[data-enter-clicks]").forEach(function (input) {
      var button = document.getElementById(input.getAttribute("data-enter-clicks"));
      if (!button) { return; }
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          button.click();
        }
      });
    });
  }

  function useMine() {
    document.querySelectorAll("button[data-copy-from]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var from = document.getElementById(button.getAttribute("data-copy-from"));
        var to = document.getElementById(button.getAttribute("data-copy-to"));
        if (!from || !to) { return; }
        to.value = from.value;
        to.dispatchEvent(new Event("input", { bubbles: true }));
        to.focus();
        button.textContent = "Copied into the box above";
      });
    });
  }

  function filterTables() {
    document.querySelectorAll("input[data-filter]").forEach(function (input) {
      var target = document.getElementById(input.getAttribute("data-filter"));
      var status = document.getElementById(input.getAttribute("data-filter-status"));
      if (!target) { return; }
      var rows = Array.prototype.slice.call(target.querySelectorAll("[data-search]"));
      function apply() {
        var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
        var shown = 0;
        rows.forEach(function (row) {
          var text = row.getAttribute("data-search");
          var match = words.every(function (w) { return text.indexOf(w) !== -1; });
          row.hidden = !match;
          if (match) { shown += 1; }
        });
        if (status) { status.textContent = shown + " of " + rows.length + " shown"; }
      }
      input.addEventListener("input", apply);
    });
  }

  function warnUnsaved() {
    var form = document.querySelector("form[data-warn-unsaved]");
    if (!form) { return; }
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  function dragToReorder() {
    var list = document.querySelector("#draft-form ol.items");
    var status = document.getElementById("order-status");
    if (!list) { return; }
    var dragged = null;
    var orderBefore = "";

    function items() { return Array.prototype.slice.call(list.querySelectorAll(":scope > li.item")); }

    function renumber() {
      var all = items();
      all.forEach(function (li, index) {
        var number = li.querySelector(".item-number");
        if (number) { number.textContent = String(index + 1); }
        var up = li.querySelector("button[value^='up-']");
        var down = li.querySelector("button[value^='down-']");
        if (up) { up.disabled = index === 0; }
        if (down) { down.disabled = index === all.length - 1; }
      });
    }

    items().forEach(function (li) {
      var handle = li.querySelector(".item-number");
      if (!handle) { return; }
      handle.classList.add("drag-handle");
      handle.title = "Drag to move this item";
      // Only the number is a handle: the item becomes draggable while the pointer
      // is over it (Chrome decides what drags when the button goes down), so text
      // in the item's boxes can still be selected with the mouse.
      handle.addEventListener("mouseenter", function () { li.draggable = true; });
      handle.addEventListener("mouseleave", function () {
        if (dragged !== li) { li.draggable = false; }
      });
      li.addEventListener("dragstart", function (event) {
        if (!li.draggable) { return; }
        dragged = li;
        orderBefore = items().map(function (el) { return el.id; }).join(",");
        li.classList.add("dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", li.id);
      });
      li.addEventListener("dragend", function () {
        li.draggable = false;
        li.classList.remove("dragging");
        dragged = null;
        var now = items().map(function (el) { return el.id; }).join(",");
        if (now !== orderBefore) {
          renumber();
          if (status) { status.textContent = "Order changed. Press Save to keep it."; }
          var form = document.getElementById("draft-form");
          if (form) { form.dispatchEvent(new Event("input", { bubbles: true })); }
        }
      });
    });

    list.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      var over = event.target.closest ? event.target.closest("li.item") : null;
      if (!over || over === dragged || over.parentNode !== list) { return; }
      var box = over.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });

    list.addEventListener("drop", function (event) {
      if (dragged) { event.preventDefault(); }
    });
  }

  // After a search the page reloads at its results (the Search button posts to
  // "#search-results", which scrolls there without script); focus moves there too,
  // so a screen reader reads how many matched.
  // After Move up or Move down, focus returns to the button pressed ("?focus=down-12"),
  // or to its twin when the item reached the end of the list.
  function focusOnLoad() {
    if (document.querySelector(".flash-error, #form-error, #conflict")) { return; }
    var target = document.querySelector("[data-focus-on-load]");
    var wanted = new URLSearchParams(window.location.search).get("focus") || "";
    var move = /^(up|down)-(\d{1,12})$/.exec(wanted);
    if (!target && move) {
      var other = (move[1] === "up" ? "down-" : "up-") + move[2];
      target = [wanted, other].map(function (value) {
        return document.querySelector("#draft-form button[name='action'][value='" + value + "']");
      }).filter(function (button) { return button && !button.disabled; })[0];
    }
    if (!target) { return; }
    // Going to the page's #item anchor moves focus to the page itself, after the
    // scripts ran: focus once that is done.
    function now() { target.focus({ preventScroll: false }); }
    if (document.readyState === "complete") {
      window.setTimeout(now, 0);
    } else {
      window.addEventListener("load", function () { window.setTimeout(now, 0); });
    }
  }

  // "Copy for the blog": one click puts the round-up's HTML (or Markdown) on the
  // clipboard. Without JavaScript the boxes are still there to select and copy.
  function copyButtons() {
    var status = document.getElementById("copy-status");
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      button.hidden = false;
      var label = button.textContent;
      button.addEventListener("click", function () {
        function done(ok) {
          button.textContent = ok ? "Copied" : label;
          if (status) {
            status.textContent = ok ? "Copied. Paste it into the blog." :
              "Could not copy: select the text in the box and copy it.";
          }
          if (ok) { setTimeout(function () { button.textContent = label; }, 3000); }
        }
        function fallback() {
          source.focus();
          source.select();
          var ok = false;
          try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
          done(ok);
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(source.value).then(function () { done(true); }, fallback);
        } else {
          fallback();
        }
      });
    });
  }

  function start() {
    focusOnLoad();
    copyButtons();
    counters();
    enterSearches();
    useMine();
    filterTables();
    dragToReorder();
    warnUnsaved();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
