// Keep an open popup inside the map after its content grew (an expanded section, a re-rendered history):
// pan the map by the overflow past any edge, plus a margin. A popup taller than the map is left to its
// own scrolling (style.css caps its height).
export function keepPopupInView(map, popupElement, margin = 8) {
  const box = popupElement.getBoundingClientRect();
  const view = map.getContainer().getBoundingClientRect();
  const shift = (low, high, min, max) => {
    if (high - low > max - min - 2 * margin) return 0;
    if (low < min + margin) return low - (min + margin);
    if (high > max - margin) return high - (max - margin);
    return 0;
  };
  const dx = shift(box.left, box.right, view.left, view.right);
  const dy = shift(box.top, box.bottom, view.top, view.bottom);
  if (dx || dy) map.panBy([dx, dy], { duration: 0 });
}
