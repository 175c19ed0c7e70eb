// What the modeler and the decision table editor pages share: their messages (data-msg-* on the page's
// root element), the status line, building elements, and JSON POSTs with the page's CSRF token.
window.ReliefDesignPage = function (root, statusEl) {
  'use strict';
  function msg(name, n) { return (root.dataset[name] || '').replace('{n}', n); }
  return {
    msg: msg,
    setStatus: function (text, kind) { statusEl.textContent = text; statusEl.className = kind || 'muted'; },
    el: function (tag, text, cls) {
      var node = document.createElement(tag);
      if (text !== undefined && text !== null) { node.textContent = String(text); }
      if (cls) { node.className = cls; }
      return node;
    },
    post: function (url, body) {
      return fetch(url, {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': root.dataset.csrf, 'Accept': 'application/json'},
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().catch(function () { return {ok: false, message: msg('msgFailed')}; })
          .then(function (data) { data.httpStatus = response.status; return data; });
      });
    }
  };
};
