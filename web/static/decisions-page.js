// The decision table editor page: dmn-js (window.ReliefDecisions, built by `make setup`), deploy on the server.
(function () {
  'use strict';
  var root = document.getElementById('decisions');
  var editor = window.ReliefDecisions;
  var statusEl = document.getElementById('designer-status');
  var dirty = false;
  var ready = false;

  var page = window.ReliefDesignPage(root, statusEl);
  var msg = page.msg, setStatus = page.setStatus, el = page.el;

  function show(data) {
    var list = document.getElementById('problems');
    list.textContent = '';
    (data.problems || []).forEach(function (p) {
      list.appendChild(el('li', (p.element_id ? p.element_id + '：' : '') + p.message));
    });
    document.getElementById('problems-box').hidden = !(data.problems || []).length;
    var body = document.querySelector('#try-results tbody');
    body.textContent = '';
    (data.results || []).filter(function (r) { return r.status; }).forEach(function (r) {
      var row = el('tr', null, 'sample-' + r.status);
      row.appendChild(el('td', r.name));
      row.appendChild(el('td', r.status_label || r.status, 'tag status-' + r.status));
      row.appendChild(el('td', r.message || ''));
      body.appendChild(row);
    });
    document.getElementById('try-box').hidden = !body.children.length;
  }

  function deploy() {
    var comment = document.getElementById('deploy-comment').value.trim();
    if (!comment) { setStatus(msg('msgComment'), 'error'); document.getElementById('deploy-comment').focus(); return; }
    if (!window.confirm(msg('msgDeployConfirm'))) { return; }
    setStatus(msg('msgWorking'));
    editor.saveXML().then(function (xml) {
      return page.post(root.dataset.deployUrl, {xml: xml, comment: comment});
    }).then(function (data) {
      show(data);
      if (data.ok) { dirty = false; setStatus(data.message, 'success'); }
      else { setStatus(data.message || msg('msgFailed'), 'error'); }
    }).catch(function (err) {
      setStatus(msg('msgFailed') + (err && err.message ? '：' + err.message : ''), 'error');
    });
  }

  document.getElementById('btn-deploy-decision').addEventListener('click', deploy);
  document.addEventListener('relief:decisions-changed', function () {
    if (ready) { dirty = true; setStatus(msg('msgDirty')); }
  });
  window.addEventListener('beforeunload', function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = msg('msgLeave'); }
  });
  var xml = JSON.parse(document.getElementById('decision-xml').textContent);
  editor.init({container: '#decision-editor', xml: xml}).then(function () {
    // Opening the table view reports changes of its own; only the designer's edits count.
    window.setTimeout(function () { ready = true; }, 0);
  }).catch(function (err) {
    setStatus(msg('msgFailed') + (err && err.message ? '：' + err.message : ''), 'error');
  });
})();
