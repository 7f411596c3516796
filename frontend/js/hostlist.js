// @ts-check
// A list a host's settings load from the server (the bans, the invite
// links): loaded while the page is a host's and forgotten when it stops
// being one, shown again every minute (its times read "5 min ago"), and
// loaded again on demand. A load that a newer one, or the end of hosting,
// overtook is dropped, so an old answer never overwrites a newer state.
// access.js and invites.js each keep one.

/** How often the list's relative times are brought up to date. */
const TICK_MS = 60000;

/** @template T */
export class HostList {
  /**
   * @param {() => Promise<T[]>} load asks the server
   * @param {() => void} render shows the list
   * @param {string} what names the list in the debug log
   */
  constructor(load, render, what) {
    this.load = load;
    this.render = render;
    this.what = what;
    /** @type {T[]} */
    this.items = [];
    /** Whether a load has finished since the last clear. */
    this.loaded = false;
    /** Whether the last load failed. */
    this.failed = false;
    this.generation = 0;
    /** Whether the page is a host's. */
    this.host = false;
    this.ticker = 0;
  }

  /**
   * Follows my role: a host's page loads the list and keeps its times up
   * to date; anyone else's forgets it. Reports whether the role changed.
   * @param {boolean} host
   * @returns {boolean}
   */
  setHost(host) {
    if (host === this.host) return false;
    this.host = host;
    clearInterval(this.ticker);
    this.ticker = 0;
    if (host) {
      this.ticker = setInterval(() => this.render(), TICK_MS);
      this.refresh();
    } else {
      this.clear();
      this.render();
    }
    return true;
  }

  /** Loads the list again and shows it (a host's page only). */
  async refresh() {
    if (!this.host) return;
    const generation = ++this.generation;
    try {
      const items = await this.load();
      if (generation !== this.generation) return;
      this.items = items;
      this.failed = false;
    } catch (err) {
      if (generation !== this.generation) return;
      console.debug(`${this.what}: the list could not be loaded`, err);
      this.failed = true;
    }
    this.loaded = true;
    this.render();
  }

  /** Forgets the list, and any load still on its way. */
  clear() {
    this.generation++;
    this.items = [];
    this.loaded = false;
  }
}
