// The dashboard (数据看板, R-6.4.1): each card fetches its chart's JSON (data-src), draws it with ECharts and
// writes the same figures into the table beside it; a click on a bar opens the case list of that bar. The
// hall display (data-refresh-minutes) reloads every card on a timer and offers the Fullscreen API.
import * as echarts from 'echarts/core';
import { BarChart, LineChart, TreemapChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, TreemapChart, AriaComponent, GridComponent, LegendComponent, TooltipComponent,
  CanvasRenderer]);

const root = document.getElementById('dashboard-charts');
const hall = document.body.classList.contains('hall');
const drawn = new Map();

function element(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function cell(tag, value, href) {
  const node = element(tag, null, tag === 'th' ? { scope: 'row' } : {});
  const text = value === null || value === undefined ? '—' : String(value);
  if (href) node.append(element('a', text, { href })); else node.textContent = text;
  return node;
}

function fillTable(tableNode, table) {
  tableNode.replaceChildren();
  tableNode.append(element('caption', table.title));
  const head = element('tr');
  table.columns.forEach((col) => head.append(element('th', col.label, { scope: 'col' })));
  const thead = element('thead');
  thead.append(head);
  tableNode.append(thead);
  const body = element('tbody');
  const keyIndex = Math.max(0, table.columns.findIndex((c) => c.key === 'key'));
  table.rows.forEach((row) => {
    const tr = element('tr');
    row.cells.forEach((value, i) => {
      const href = i === keyIndex ? row.href : row.links[i];
      tr.append(cell(i === keyIndex ? 'th' : 'td', value, href));
    });
    body.append(tr);
  });
  tableNode.append(body);
}

function figures(card, table) {
  let list = card.querySelector('.dash-figures');
  if (!list) {
    list = element('ul', null, { class: 'dash-figures' });
    card.querySelector('.dash-title').after(list);
  }
  list.replaceChildren();
  const [row] = table.rows;
  table.columns.forEach((col, i) => {
    if (i === 0 || !row) return;
    const item = element('li');
    item.append(element('span', col.label, { class: 'label' }), element('span', row.cells[i], { class: 'value' }));
    list.append(item);
  });
}

function option(table) {
  const keyIndex = Math.max(0, table.columns.findIndex((c) => c.key === 'key'));
  const categories = table.rows.map((r) => r.cells[keyIndex]);
  const text = hall ? { color: '#f2f4f7', fontSize: 18 } : { fontSize: 12 };
  const base = { aria: { enabled: true }, tooltip: { trigger: table.kind === 'treemap' ? 'item' : 'axis' },
    textStyle: text };
  if (table.kind === 'treemap') {
    const valueIndex = table.columns.findIndex((c) => c.chart);
    const towns = new Map();
    table.rows.forEach((row, i) => {
      const town = row.cells[0];
      if (!towns.has(town)) towns.set(town, { name: town, children: [] });
      towns.get(town).children.push({ name: row.cells[keyIndex], value: row.cells[valueIndex], rowIndex: i });
    });
    return { ...base, series: [{ type: 'treemap', data: [...towns.values()], leafDepth: 2, roam: false,
      label: { show: true, fontSize: hall ? 18 : 12 }, upperLabel: { show: true, height: hall ? 28 : 20 } }] };
  }
  const series = [];
  table.columns.forEach((col, i) => {
    if (!col.chart) return;
    series.push({ name: col.label, type: table.kind === 'line' ? 'line' : 'bar', columnIndex: i,
      stack: table.kind === 'stacked' ? 'total' : undefined, data: table.rows.map((r) => r.cells[i]) });
  });
  return { ...base, legend: { textStyle: text }, grid: { left: 48, right: 16, bottom: 48, top: 40, containLabel: true },
    xAxis: { type: 'category', data: categories, axisLabel: { ...text, rotate: categories.length > 12 ? 45 : 0 } },
    yAxis: { type: 'value', axisLabel: text }, series };
}

function draw(card, table) {
  const box = card.querySelector('.dash-chart');
  if (!box) return;
  let chart = drawn.get(card);
  if (!chart) {
    chart = echarts.init(box, null, { renderer: 'canvas' });
    drawn.set(card, chart);
    chart.on('click', (event) => {
      const current = chart.currentTable;
      if (!current) return;
      const rowIndex = event.data && event.data.rowIndex !== undefined ? event.data.rowIndex : event.dataIndex;
      const row = current.rows[rowIndex];
      if (!row) return;
      const spec = chart.getOption().series[event.seriesIndex] || {};
      const href = (spec.columnIndex !== undefined && row.links[spec.columnIndex]) || row.href;
      if (href) window.location.assign(href);
    });
  }
  chart.currentTable = table;
  chart.setOption(option(table), true);
}

async function load(card) {
  card.setAttribute('aria-busy', 'true');
  const response = await fetch(card.dataset.src, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${response.status}`);
  const data = await response.json();
  const { table } = data;
  card.querySelector('.dash-title').textContent = table.title;
  card.querySelector('.dash-note').textContent = table.note || '';
  const problems = Object.values(data.errors || {}).flat();
  const errors = card.querySelector('.dash-errors');
  errors.textContent = problems.join('；');
  errors.hidden = problems.length === 0;
  fillTable(card.querySelector('.dash-table'), table);
  if (table.kind === 'figures') figures(card, table); else draw(card, table);
  card.setAttribute('aria-busy', 'false');
  card.dataset.loaded = String(Date.now());
}

function loadAll() {
  const cards = [...root.querySelectorAll('[data-chart]')];
  return Promise.allSettled(cards.map(load)).then(() => {
    const stamp = document.getElementById('hall-updated');
    if (stamp) stamp.textContent = `${root.dataset.updatedLabel || ''} ${new Date().toLocaleTimeString()}`;
    root.dataset.ready = String(Date.now());
  });
}

if (root) {
  loadAll();
  const minutes = Number(root.dataset.refreshMinutes || 0);
  if (minutes > 0) setInterval(loadAll, minutes * 60 * 1000);
  window.addEventListener('resize', () => drawn.forEach((chart) => chart.resize()));
  const button = document.getElementById('fullscreen');
  if (button) {
    button.hidden = !document.fullscreenEnabled;
    button.addEventListener('click', () => {
      if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen();
    });
    document.addEventListener('fullscreenchange', () => drawn.forEach((chart) => chart.resize()));
  }
}
