// The modeler page: load the version into bpmn-js (window.ReliefModeler, built by `make setup`),
// validate / try / deploy the draft on the server, and point at problem elements on the canvas.
(function () {
  'use strict';
  var root = document.getElementById('designer');
  var modeler = window.ReliefModeler;
  var statusEl = document.getElementById('designer-status');
  var dirty = false;

  var page = window.ReliefDesignPage(root, statusEl);
  var msg = page.msg, setStatus = page.setStatus, el = page.el, post = page.post;

  function showProblems(problems) {
    var box = document.getElementById('problems-box');
    var list = document.getElementById('problems');
    list.textContent = '';
    modeler.clearHighlights();
    box.hidden = !problems.length;
    var ids = [];
    problems.forEach(function (p) {
      var item = el('li');
      var button = el('button', null, 'link problem');
      button.type = 'button';
      button.dataset.elementId = p.element_id || '';
      var where = (p.element_id || '—') + (p.line ? ' · ' + msg('msgLine', p.line) : '');
      button.appendChild(el('code', where));
      button.appendChild(document.createTextNode('：' + p.message));
      button.addEventListener('click', function () { if (p.element_id) { modeler.select(p.element_id); } });
      item.appendChild(button);
      list.appendChild(item);
      if (p.element_id) { ids.push(p.element_id); }
    });
    modeler.highlight(ids);
  }

  function showResults(results) {
    var box = document.getElementById('try-box');
    var body = document.querySelector('#try-results tbody');
    body.textContent = '';
    box.hidden = false;
    results.forEach(function (r) {
      var row = el('tr', null, 'sample-' + r.status);
      row.dataset.sample = r.name;
      row.appendChild(el('td', r.name));
      row.appendChild(el('td', r.status_label || r.status, 'tag status-' + r.status));
      row.appendChild(el('td', r.end ? (r.end.name || r.end.id) : '—'));
      row.appendChild(el('td', (r.path || []).map(function (s) { return s.name || s.id; }).join(' → ')));
      row.appendChild(el('td', r.message || ''));
      body.appendChild(row);
    });
  }

  function withDraft(action) {
    delete statusEl.dataset.version;
    setStatus(msg('msgWorking'));
    return modeler.saveXML().then(action).catch(function (err) {
      setStatus(msg('msgFailed') + (err && err.message ? '：' + err.message : ''), 'error');
    });
  }

  function validate() {
    return withDraft(function (xml) {
      return post(root.dataset.validateUrl, {xml: xml}).then(function (data) {
        showProblems((data.problems || []).concat((data.warnings || []).map(function (w) {
          return {element_id: w.element_id, line: w.line, message: msg('msgWarning') + w.message};
        })));
        if (data.ok) { setStatus(msg('msgValid') + ((data.warnings || []).length ? msg('msgWarnings', data.warnings.length) : ''), 'success'); }
        else { setStatus(data.message || msg('msgInvalid', (data.problems || []).length), 'error'); }
      });
    });
  }

  function trySamples() {
    return withDraft(function (xml) {
      return post(root.dataset.tryUrl, {xml: xml}).then(function (data) {
        showProblems(data.problems || []);
        showResults(data.results || []);
        var failed = (data.results || []).filter(function (r) { return r.status !== 'passed'; }).length;
        if (data.problems && data.problems.length) {
          setStatus(msg('msgInvalid', data.problems.length), 'error');
        } else if (data.message) {
          setStatus(data.message, 'error');
        } else if (failed) {
          setStatus(msg('msgSamplesFailed', failed), 'error');
        } else {
          setStatus(msg('msgSamplesPassed', (data.results || []).length), 'success');
        }
      });
    });
  }

  // Deploy runs the samples on the server: a draft whose samples fail comes back with them, and an
  // administrator may then deploy it anyway with a reason (the server checks the role and audits it).
  function deploy(despite) {
    var comment = document.getElementById('deploy-comment').value.trim();
    if (!comment) { setStatus(msg('msgComment'), 'error'); document.getElementById('deploy-comment').focus(); return; }
    var body = {comment: comment};
    if (despite) {
      var reason = document.getElementById('override-reason').value.trim();
      if (!reason) { setStatus(msg('msgReason'), 'error'); document.getElementById('override-reason').focus(); return; }
      if (!window.confirm(msg('msgDespiteConfirm'))) { return; }
      body.despite_samples = true;
      body.reason = reason;
    } else if (!window.confirm(msg('msgDeployConfirm'))) { return; }
    withDraft(function (xml) {
      body.xml = xml;
      return post(root.dataset.deployUrl, body).then(function (data) {
        showProblems(data.problems || []);
        if (data.results && data.results.length) { showResults(data.results); }
        document.getElementById('override-box').hidden = !(data.may_override && !data.ok);
        if (data.ok) {
          dirty = false;
          setStatus(data.message, 'success');
          statusEl.dataset.version = data.version;
        } else {
          setStatus(data.message || msg('msgInvalid', (data.problems || []).length), 'error');
        }
      });
    });
  }

  function download() {
    withDraft(function (xml) {
      var link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([xml], {type: 'application/xml'}));
      link.download = root.dataset.filename;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setStatus('');
    });
  }

  document.getElementById('btn-validate').addEventListener('click', validate);
  document.getElementById('btn-try').addEventListener('click', trySamples);
  document.getElementById('btn-deploy').addEventListener('click', function () { deploy(false); });
  document.getElementById('btn-deploy-despite').addEventListener('click', function () { deploy(true); });
  document.getElementById('btn-download').addEventListener('click', download);
  document.addEventListener('relief:modeler-changed', function () { dirty = true; setStatus(msg('msgDirty')); });
  window.addEventListener('beforeunload', function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = msg('msgLeave'); }
  });

  var xml = JSON.parse(document.getElementById('draft-xml').textContent);
  modeler.init({canvas: '#modeler-canvas', properties: '#modeler-properties', xml: xml}).then(function (warnings) {
    if (warnings && warnings.length) { setStatus(warnings.length + ' import warnings', 'error'); }
    dirty = false;
  }).catch(function (err) {
    setStatus(msg('msgFailed') + (err && err.message ? '：' + err.message : ''), 'error');
  });
})();
