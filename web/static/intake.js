// The registration forms (window registration, the portal's application).
(function () {
  /* Show only the villages of the chosen township; the server checks the pair again. */
  var town = document.getElementById('township-select');
  var village = document.getElementById('village-select');
  if (town && village) {
    var filter = function () {
      Array.prototype.forEach.call(village.options, function (option) {
        var parent = option.getAttribute('data-township');
        var show = !parent || parent === town.value;
        option.hidden = !show;
        option.disabled = !show;
        if (!show && option.selected) { village.value = ''; }
      });
    };
    town.addEventListener('change', filter);
    filter();
  }

  /* Window registration: show the fields of the chosen kind; disabled fieldsets are not submitted. */
  var sets = {application: document.getElementById('application-fields'),
              consultation: document.getElementById('consultation-fields')};
  var idField = document.getElementById('id-number-field');
  var radios = document.querySelectorAll('input[name=kind]');
  if (!idField || !sets.application || !sets.consultation || !radios.length) { return; }
  function show() {
    var checked = document.querySelector('input[name=kind]:checked');
    if (!checked) { return; }
    var kind = checked.value;
    Object.keys(sets).forEach(function (key) {
      sets[key].disabled = key !== kind;
      sets[key].hidden = key !== kind;
    });
    idField.hidden = kind !== 'application';
    idField.querySelector('input').disabled = kind !== 'application';
  }
  radios.forEach(function (radio) { radio.addEventListener('change', show); });
  show();
})();
