// Building the page from data without ever parsing data as HTML: every value a node or a person
// gives becomes a text node or an attribute, so nothing they write can run as script.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/// Replaces what `element` shows.
export function show(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

let fieldCount = 0;

/// A labelled input: the label names the control for screen readers and a hint, if any, is tied
/// to it with aria-describedby.
export function field(label, attributes = {}, hint) {
  const id = attributes.id ?? `field-${++fieldCount}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const control = attributes.type === 'select'
    ? h('select', { ...attributes, type: undefined, id, 'aria-describedby': hintId }, ...(attributes.options ?? []).map(([value, text]) => h('option', { value }, text)))
    : attributes.type === 'textarea'
      ? h('textarea', { ...attributes, type: undefined, id, 'aria-describedby': hintId })
      : h('input', { ...attributes, id, 'aria-describedby': hintId });
  if (attributes.type === 'select') control.removeAttribute('options');
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

/// A message announced to screen readers: `status` politely, `alert` at once.
export function notice(kind, ...children) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

export function download(name, text, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function readFile(input) {
  const file = input.files?.[0];
  return file ? await file.text() : null;
}
