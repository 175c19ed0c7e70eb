// Read-only process diagram with progress, error and heat overlays, exposed as window.ReliefViewer.
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import './relief.css';

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

const STATE_KINDS = ['done', 'active', 'error'];
const HEAT_LEVELS = 5;

function resolveNode(target) {
  const node = typeof target === 'string' ? document.querySelector(target) : target;
  if (!node) {
    throw new Error(`ReliefViewer: canvas container not found: ${target}`);
  }
  return node;
}

function badge(item) {
  // Labels and titles come from case data: set as text, never as HTML.
  const span = document.createElement('span');
  span.className = `relief-badge relief-badge-${item.kind}`;
  span.dataset.elementId = item.id;
  span.textContent = item.label == null ? '' : String(item.label);
  span.title = item.title == null ? span.textContent : String(item.title);
  return span;
}

function heatLevel(level) {
  const value = Number(level);
  if (!Number.isFinite(value) || value <= 0) {
    return 0;
  }
  return Math.min(HEAT_LEVELS - 1, Math.floor(value * HEAT_LEVELS));
}

function applyOverlay(viewer, item) {
  if (!item || !viewer.get('elementRegistry').get(item.id)) {
    return;
  }
  const canvas = viewer.get('canvas');
  const overlays = viewer.get('overlays');
  if (STATE_KINDS.includes(item.kind)) {
    canvas.addMarker(item.id, `relief-${item.kind}`);
    overlays.add(item.id, 'relief', { position: { top: -12, right: 12 }, html: badge(item) });
  } else if (item.kind === 'heat') {
    canvas.addMarker(item.id, `relief-heat-${heatLevel(item.level)}`);
    overlays.add(item.id, 'relief', { position: { bottom: -8, left: 0 }, html: badge(item) });
  }
}

const ReliefViewer = {
  viewer: null,

  /** Show `xml` in `canvas` with `overlays` ({id, kind, label, title?, level?}); resolves to the import warnings. */
  async init({ canvas = '#viewer-canvas', xml, overlays = [] } = {}) {
    if (this.viewer) {
      this.viewer.destroy();
    }
    delete document.body.dataset.viewerReady;

    const viewer = new NavigatedViewer({ container: resolveNode(canvas) });
    this.viewer = viewer;

    const { warnings } = await viewer.importXML(xml);
    for (const item of overlays) {
      applyOverlay(viewer, item);
    }
    viewer.get('canvas').zoom('fit-viewport');
    document.body.dataset.viewerReady = '1';
    document.dispatchEvent(new CustomEvent('relief:viewer-ready', { detail: { warnings } }));
    return warnings;
  }
};

window.ReliefViewer = ReliefViewer;
