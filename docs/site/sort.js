document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (header, column) {
    header.addEventListener("click", function () {
      var ascending = header.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) { return row.cells[column].textContent.trim(); }
      rows.sort(function (a, b) {
        var x = parseFloat(key(a)), y = parseFloat(key(b));
        var order;
        if (isNaN(x) && isNaN(y)) { order = key(a).localeCompare(key(b)); }
        else if (isNaN(x)) { return 1; }
        else if (isNaN(y)) { return -1; }
        else { order = x - y; }
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
