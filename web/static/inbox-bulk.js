// 批量操作 in the inbox: the header's checkbox ticks or clears every task of the page for the bulk form.
(function () {
  "use strict";
  document.querySelectorAll("[data-select-all]").forEach(function (all) {
    var boxes = function () {
      return document.querySelectorAll('input[type="checkbox"][name="task_ids"][form="' + all.dataset.selectAll + '"]');
    };
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
    });
    boxes().forEach(function (box) {
      box.addEventListener("change", function () {
        var list = Array.prototype.slice.call(boxes());
        all.checked = list.every(function (b) { return b.checked; });
        all.indeterminate = !all.checked && list.some(function (b) { return b.checked; });
      });
    });
  });
})();
