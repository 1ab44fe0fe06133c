// Every problem of the demo page's layout that a user would see, as a list of sentences (tests/test_web_browser.py):
// the page scrolling sideways, an element sticking out of its card (or, in the strip of test images, which scrolls
// sideways, out of its own button), text cut off without its whole in a title, text spilling out of its box, the top
// label over its neighbours, ranked rows over each other or a label over its value.
() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) {
    problems.push(`the page scrolls sideways: ${root.scrollWidth} > ${root.clientWidth}`);
  }
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const name = (e) => (e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`);
  const text = (e) => `"${e.textContent.trim().slice(0, 40)}"`;
  const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5
    && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5
    && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  for (const e of document.querySelectorAll('.site-header *, .card *')) {
    if (!shown(e)) continue;
    const holder = e.closest('.sample') ?? e.closest('.card, .site-header');
    if (!e.matches('.sample, .visually-hidden') && !inside(e.getBoundingClientRect(), holder.getBoundingClientRect())) {
      problems.push(`${name(e)} ${text(e)} sticks out of ${name(holder)}`);
    }
    const style = getComputedStyle(e);
    if (style.display === 'inline' || !e.textContent.trim() || e.children.length) continue;
    if (e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1) continue;
    if (style.overflow === 'visible') problems.push(`${name(e)} ${text(e)} overflows its box`);
    else if (e.closest('[title]')?.title !== e.textContent) {
      problems.push(`${name(e)} ${text(e)} is cut without its whole in a title`);
    }
  }
  // Labels stay inside the box drawn around them (a label box of fixed size would not grow with its text).
  for (const e of document.querySelectorAll('.top-text, .prediction-label, .prediction-value, .sample-label')) {
    if (shown(e) && !inside(e.getBoundingClientRect(), e.parentElement.getBoundingClientRect())) {
      problems.push(`${name(e)} ${text(e)} sticks out of ${name(e.parentElement)}`);
    }
  }
  const rows = [...document.querySelectorAll('.prediction')];
  const pairs = ['.top-label', '.top-text'].map((s) => [document.querySelector(s), document.querySelector('.top-meta')]);
  rows.slice(1).forEach((row, k) => pairs.push([rows[k], row]));
  for (const [first, second] of pairs) {
    if (shown(first) && shown(second) && overlap(first.getBoundingClientRect(), second.getBoundingClientRect())) {
      problems.push(`${name(first)} ${text(first)} overlaps ${name(second)} ${text(second)}`);
    }
  }
  for (const row of rows) {
    const [label, value] = ['.prediction-label', '.prediction-value'].map((s) => row.querySelector(s));
    if (overlap(label.getBoundingClientRect(), value.getBoundingClientRect())) {
      problems.push(`the ranked label ${text(label)} overlaps its value`);
    }
  }
  const top = document.querySelector('.top-label');
  const padding = parseFloat(getComputedStyle(top).paddingBottom);
  if (top.querySelector('.top-text').getBoundingClientRect().bottom > top.getBoundingClientRect().bottom - padding + 0.5) {
    problems.push(`the top label ${text(top)} runs into its padding`);
  }
  return problems;
}
