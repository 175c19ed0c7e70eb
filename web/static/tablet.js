// The window's rating tablet (/tablet): a waiting screen asks every few seconds whether a visit has come to
// rate, and reloads when the visit on offer changes (not while someone is filling the form in); the
// thank-you screen goes back to waiting; a rating is sent once however often the button is tapped.
(function () {
  'use strict';
  var screen = document.querySelector('[data-tablet]');
  if (!screen) {
    return;
  }
  var back = screen.getAttribute('data-return-to');
  if (back) {
    window.setTimeout(function () { window.location.assign(back); },
                      1000 * (Number(screen.getAttribute('data-return-seconds')) || 6));
    return;
  }
  var poll = screen.getAttribute('data-poll');
  var every = 1000 * (Number(screen.getAttribute('data-poll-seconds')) || 4);
  var shown = screen.getAttribute('data-visit') || '';
  var form = document.getElementById('rating-form');
  var touched = false;
  if (form) {
    form.addEventListener('change', function () { touched = true; });
    form.addEventListener('input', function () { touched = true; });
    form.addEventListener('submit', function () {
      var button = form.querySelector('button[type=submit]');
      // Disabled after the submit has started, so the form still goes; a second tap sends nothing.
      window.setTimeout(function () { button.disabled = true; }, 0);
      touched = true;
    });
  }
  function ask() {
    window.fetch(poll, {credentials: 'same-origin', cache: 'no-store', headers: {Accept: 'application/json'}})
      .then(function (response) {
        if (response.status === 403) {  // revoked: the screen itself says so
          window.location.reload();
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (answer && String(answer.visit || '') !== shown && !touched) {
          window.location.reload();
          return;
        }
        window.setTimeout(ask, every);
      })
      .catch(function () { window.setTimeout(ask, every); });  // the network comes back: keep asking
  }
  window.setTimeout(ask, every);
}());
