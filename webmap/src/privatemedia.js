// Private media (a researcher's recording audio, a review spectrogram) for <audio> and <img>: fetched
// with the Authorization header into a blob: URL, since an element's src request carries no token.
import { api } from "./api.js";

const urls = new Set();

export async function privateObjectUrl(path) {
  const blob = await (await api(path)).blob();
  const url = URL.createObjectURL(blob);
  urls.add(url);
  return url;
}

// Forget the blob: URLs handed out so far (when another recording is shown).
export function releaseObjectUrls() {
  for (const url of urls) URL.revokeObjectURL(url);
  urls.clear();
}
