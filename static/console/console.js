/*
 * Segments Console — the few behaviours the server cannot do alone:
 * the dialog (open when htmx fills it, close on success/Escape), toasts,
 * copy-to-clipboard, the metadata editor rows, filtering a <select>,
 * row selection for bulk actions, and the language switcher.
 * Everything is wired through data- attributes and htmx events; no inline script.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var body = document.body;

  function message(name, fallback) {
    return (body && body.dataset["msg" + name]) || fallback;
  }

  /* ------------------------------------------------------------------ toasts */

  function toast(text, level) {
    var region = document.getElementById("toasts");
    if (!region || !text) return;
    var item = document.createElement("div");
    item.className = "toast toast--" + (level || "success");
    var span = document.createElement("span");
    span.className = "toast__text";
    span.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.setAttribute("data-toast-close", "");
    close.setAttribute("aria-label", message("Dismiss", "Dismiss"));
    close.textContent = "\u00d7";
    item.appendChild(span);
    item.appendChild(close);
    region.appendChild(item);
    scheduleRemoval(item, level === "error" ? 8000 : 4500);
  }

  function scheduleRemoval(item, delay) {
    window.setTimeout(function () {
      item.classList.add("is-leaving");
      window.setTimeout(function () { item.remove(); }, 250);
    }, delay);
  }

  document.querySelectorAll("#toasts .toast").forEach(function (item) {
    scheduleRemoval(item, 6000);
  });

  /* ------------------------------------------------------------------ dialog */

  // Looked up each time: a history restore replaces the body's content.
  function getDialog() {
    return document.getElementById("dialog");
  }

  function getDialogBody() {
    return document.getElementById("dialog-body");
  }

  function openDialog() {
    var dialog = getDialog();
    if (!dialog) return;
    if (!dialog.open) dialog.showModal();
    var focusable = dialog.querySelector("[autofocus]") ||
      dialog.querySelector(".panel__body input:not([type=hidden]), .panel__body select, .panel__body textarea") ||
      dialog.querySelector("button, [href]");
    if (focusable) focusable.focus();
  }

  function closeDialog() {
    var dialog = getDialog();
    if (dialog && dialog.open) dialog.close();
  }

  function initDialog() {
    var dialog = getDialog();
    if (!dialog || dialog.hasAttribute("data-ready")) return;
    dialog.setAttribute("data-ready", "");
    if (dialog.hasAttribute("data-modal-on-load")) {
      // Rendered open for a deep link (?create=1): make it modal, and drop the flag
      // from the address so that a reload or a shared link of the list stays a list.
      dialog.removeAttribute("data-modal-on-load");
      dialog.close();
      openDialog();
      if (window.history && window.URL) {
        var url = new URL(window.location.href);
        url.searchParams.delete("create");
        window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
      }
    }
    dialog.addEventListener("close", function () {
      window.setTimeout(function () {
        if (!dialog.open) getDialogBody().replaceChildren();
      }, 0);
    });
    // A click on the backdrop (the <dialog> itself, outside its content) closes it.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) closeDialog();
    });
  }

  initDialog();

  /* ------------------------------------------------------------------ htmx events */

  body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog-body" && target.children.length) {
      openDialog();
    }
  });

  body.addEventListener("close-dialog", closeDialog);

  body.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    toast(detail.message || (detail.value && detail.value.message), detail.level || "success");
  });

  body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 422) return; // answered with its own toast or form errors
    if (status === 403) toast(message("Forbidden", "Not allowed."), "error");
    else if (status === 404) toast(message("NotFound", "Not found."), "error");
    else toast(message("Error", "Something went wrong."), "error");
  });

  body.addEventListener("htmx:sendError", function () {
    toast(message("Offline", "The server could not be reached."), "error");
  });

  body.addEventListener("htmx:beforeRequest", function () {
    document.documentElement.classList.add("is-loading");
  });
  body.addEventListener("htmx:afterRequest", function () {
    document.documentElement.classList.remove("is-loading");
  });

  body.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-bulk-scope]").forEach(updateSelection);
  });

  /* ------------------------------------------------------------------ clicks */

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-dialog-close]");
    var dialog = getDialog();
    if (closer && dialog && dialog.open && dialog.contains(closer)) {
      event.preventDefault();
      closeDialog();
      return;
    }

    var toastClose = event.target.closest("[data-toast-close]");
    if (toastClose) {
      toastClose.closest(".toast").remove();
      return;
    }

    var copy = event.target.closest("[data-copy]");
    if (copy) {
      event.preventDefault();
      copyText(copy.getAttribute("data-copy"), copy);
      return;
    }

    if (event.target.closest("[data-metadata-add]")) {
      addMetadataRow(event.target.closest("[data-metadata-editor]"));
      return;
    }

    var remove = event.target.closest("[data-metadata-remove]");
    if (remove) {
      removeMetadataRow(remove.closest("[data-metadata-row]"));
    }
  });

  /* ------------------------------------------------------------------ copy */

  function copyText(text, source) {
    function done() {
      toast(message("Copied", "ID copied"), "success");
      source.classList.add("is-copied");
      window.setTimeout(function () { source.classList.remove("is-copied"); }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text, done); });
    } else {
      fallbackCopy(text, done);
    }
  }

  function fallbackCopy(text, done) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    var dialog = getDialog();
    (dialog && dialog.open ? dialog : body).appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    if (ok) done();
    else toast(message("CopyFailed", "Could not copy."), "error");
  }

  /* ------------------------------------------------------------------ metadata editor */

  function metadataLimit(editor) {
    return parseInt(editor.getAttribute("data-max") || "100", 10);
  }

  function refreshMetadataEditor(editor) {
    if (!editor) return;
    var rows = editor.querySelectorAll("[data-metadata-row]").length;
    var full = rows >= metadataLimit(editor);
    var add = editor.querySelector("[data-metadata-add]");
    var note = editor.querySelector("[data-metadata-limit]");
    if (add) add.disabled = full;
    if (note) note.hidden = !full;
  }

  function addMetadataRow(editor) {
    if (!editor) return;
    var rows = editor.querySelector("[data-metadata-rows]");
    var template = editor.querySelector("template[data-metadata-template]");
    if (rows.children.length >= metadataLimit(editor)) return;
    var row = template.content.firstElementChild.cloneNode(true);
    rows.appendChild(row);
    row.querySelector("input").focus();
    refreshMetadataEditor(editor);
  }

  function removeMetadataRow(row) {
    if (!row) return;
    var editor = row.closest("[data-metadata-editor]");
    var next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    var focusTarget = next ? next.querySelector("input") : editor.querySelector("[data-metadata-add]");
    if (focusTarget) focusTarget.focus();
    refreshMetadataEditor(editor);
  }

  /* ------------------------------------------------------------------ select filter */

  document.addEventListener("input", function (event) {
    var filter = event.target.closest("[data-filter-select]");
    if (!filter) return;
    var select = document.getElementById(filter.getAttribute("data-filter-select"));
    if (!select) return;
    var needle = filter.value.trim().toLowerCase();
    var firstVisible = null;
    Array.prototype.forEach.call(select.options, function (option) {
      var keep = !option.value || !needle || option.text.toLowerCase().indexOf(needle) !== -1;
      option.hidden = !keep;
      if (keep && option.value && !option.disabled && !firstVisible) firstVisible = option;
    });
    var current = select.options[select.selectedIndex];
    if (needle && firstVisible && (!current || current.hidden || !current.value)) {
      select.value = firstVisible.value;
    }
  });

  /* ------------------------------------------------------------------ bulk selection */

  function scopeOf(element) {
    return element.closest("[data-bulk-scope]");
  }

  function updateSelection(scope) {
    if (!scope) return;
    var checks = scope.querySelectorAll("[data-row-check]");
    var checked = scope.querySelectorAll("[data-row-check]:checked").length;
    var all = scope.querySelector("[data-select-all]");
    if (all) {
      all.checked = checks.length > 0 && checked === checks.length;
      all.indeterminate = checked > 0 && checked < checks.length;
    }
    var bar = document.getElementById(scope.getAttribute("data-bulk-scope"));
    if (!bar) return;
    bar.classList.toggle("has-selection", checked > 0);
    var count = bar.querySelector("[data-selected-count]");
    if (count) {
      if (!count.hasAttribute("data-empty-text")) count.setAttribute("data-empty-text", count.textContent);
      count.textContent = checked > 0
        ? message("Selected", "%(count)s selected").replace("%(count)s", checked)
        : count.getAttribute("data-empty-text");
    }
    bar.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      button.disabled = checked === 0;
    });
  }

  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (all) {
      scopeOf(all).querySelectorAll("[data-row-check]").forEach(function (box) {
        box.checked = all.checked;
      });
    }
    if (event.target.closest("[data-row-check], [data-select-all]")) {
      updateSelection(scopeOf(event.target));
    }
    var auto = event.target.closest("select[data-autosubmit]");
    if (auto && auto.form) {
      var next = auto.form.querySelector("input[name=next]");
      if (next) next.value = window.location.pathname + window.location.search;
      auto.form.submit();
    }
  });

  function initPage() {
    initDialog();
    document.querySelectorAll("[data-bulk-scope]").forEach(updateSelection);
    document.querySelectorAll("[data-metadata-editor]").forEach(refreshMetadataEditor);
  }

  initPage();
  body.addEventListener("htmx:historyRestore", initPage);
  body.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (root && root.querySelectorAll) {
      root.querySelectorAll("[data-metadata-editor]").forEach(refreshMetadataEditor);
    }
  });
})();
