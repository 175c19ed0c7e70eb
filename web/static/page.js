// Behaviour every page may use, without inline script (the Content-Security-Policy allows none):
// a button with data-print prints the page; a select with data-autosubmit submits its form on change.
document.addEventListener('click', function (event) {
  if (event.target.closest('[data-print]')) {
    window.print();
  }
});
document.addEventListener('change', function (event) {
  var select = event.target.closest('select[data-autosubmit]');
  if (select && select.form) {
    select.form.submit();
  }
});
