// @ts-check
// A list a host's settings load from the server (the bans, the invite
// links): loaded again on demand, and a load that a newer one, or the end
// of hosting, overtook is dropped, so an old answer never overwrites a
// newer state. access.js and invites.js each keep one.

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
  }

  /** Loads the list again and shows it. */
  async refresh() {
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
