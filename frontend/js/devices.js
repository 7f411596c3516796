// @ts-check
// Which camera, microphone and speaker this browser uses: the devices there
// are now, the choice remembered in localStorage, and matching one to the
// other. The matching is pure (node --test imports it); the rest only reads
// navigator.mediaDevices and localStorage.
//
// A choice is kept as {deviceId, label}. The id is the browser's own and
// stable per site while the site keeps its data, but a browser may hand out
// new ids (Firefox after a restart without a persistent permission, a
// cleared profile): then the label, e.g. "Logitech C920", still finds the
// same device.

/** @typedef {'camera'|'microphone'|'speaker'} DeviceKind */

/**
 * A remembered choice.
 * @typedef {Object} DeviceChoice
 * @property {string} deviceId
 * @property {string} label
 */

/**
 * The part of a MediaDeviceInfo the matching needs.
 * @typedef {Object} DeviceEntry
 * @property {string} deviceId
 * @property {string} label
 * @property {string} kind videoinput, audioinput or audiooutput
 */

/** @typedef {Partial<Record<DeviceKind, DeviceChoice>>} DevicePrefs */

/** @type {Record<DeviceKind, MediaDeviceKind>} */
export const DEVICE_KIND = { camera: 'videoinput', microphone: 'audioinput', speaker: 'audiooutput' };

/** @type {DeviceKind[]} */
export const KINDS = ['camera', 'microphone', 'speaker'];

const STORAGE_KEY = 'meet.devices';

/**
 * The device of list that is the remembered choice: the same id, else the
 * same label (a label the browser hides, before any permission, is empty and
 * matches nothing). Pure.
 * @param {readonly DeviceEntry[]} list devices of one kind
 * @param {DeviceChoice|undefined|null} choice
 * @returns {DeviceEntry|null}
 */
export function matchDevice(list, choice) {
  if (!choice) return null;
  if (choice.deviceId) {
    const byId = list.find((d) => d.deviceId === choice.deviceId);
    if (byId) return byId;
  }
  if (choice.label) {
    const byLabel = list.find((d) => d.label !== '' && d.label === choice.label);
    if (byLabel) return byLabel;
  }
  return null;
}

/**
 * Splits a device list by kind, dropping the entries a browser lists
 * before permission without an id (they cannot be chosen). Pure.
 * @param {readonly DeviceEntry[]} list
 * @returns {Record<DeviceKind, DeviceEntry[]>}
 */
export function groupDevices(list) {
  /** @type {Record<DeviceKind, DeviceEntry[]>} */
  const out = { camera: [], microphone: [], speaker: [] };
  for (const kind of KINDS) {
    const seen = new Set();
    for (const d of list) {
      if (d.kind !== DEVICE_KIND[kind] || !d.deviceId || seen.has(d.deviceId)) continue;
      seen.add(d.deviceId);
      out[kind].push(d);
    }
  }
  return out;
}

/**
 * The deviceId constraint for opening a device of one kind: exact when the
 * remembered device is in the list now (so the browser cannot quietly pick
 * another), ideal when the list has no ids to check against (no permission
 * yet: the browser uses the device if it still exists), none without a
 * choice or when the remembered device is gone. Pure.
 * @param {readonly DeviceEntry[]} list devices of that kind
 * @param {DeviceChoice|undefined|null} choice
 * @returns {ConstrainDOMString|undefined}
 */
export function deviceConstraint(list, choice) {
  if (!choice || !choice.deviceId) return undefined;
  const found = matchDevice(list, choice);
  if (found) return { exact: found.deviceId };
  const listed = list.some((d) => d.deviceId !== '' && d.label !== '');
  return listed ? undefined : { ideal: choice.deviceId };
}

/**
 * Reads remembered choices from their stored JSON, keeping only
 * well-formed entries. Pure.
 * @param {string|null} raw
 * @returns {DevicePrefs}
 */
export function parsePrefs(raw) {
  /** @type {DevicePrefs} */
  const out = {};
  if (!raw) return out;
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    return out;
  }
  if (!data || typeof data !== 'object') return out;
  for (const kind of KINDS) {
    const c = data[kind];
    if (c && typeof c === 'object' && typeof c.deviceId === 'string' && typeof c.label === 'string') {
      out[kind] = { deviceId: c.deviceId, label: c.label };
    }
  }
  return out;
}

/** @returns {DevicePrefs} the choices remembered in this browser */
export function loadPrefs() {
  try {
    return parsePrefs(localStorage.getItem(STORAGE_KEY));
  } catch {
    return {}; // storage blocked: nothing remembered
  }
}

/**
 * Remembers a choice for the next visit.
 * @param {DeviceKind} kind
 * @param {DeviceChoice} choice
 */
export function savePref(kind, choice) {
  const prefs = loadPrefs();
  prefs[kind] = { deviceId: choice.deviceId, label: choice.label };
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(prefs));
  } catch {
    // Private mode or a full quota: the choice lasts for this page only.
  }
}

/**
 * The devices there are now, by kind. Labels are empty until the page has
 * been allowed a camera or microphone.
 * @returns {Promise<Record<DeviceKind, DeviceEntry[]>>}
 */
export async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return groupDevices([]);
  try {
    return groupDevices(await navigator.mediaDevices.enumerateDevices());
  } catch {
    return groupDevices([]);
  }
}

/**
 * The deviceId constraints of the remembered camera and microphone, for
 * the next getUserMedia.
 * @returns {Promise<{camera?: ConstrainDOMString, microphone?: ConstrainDOMString}>}
 */
export async function preferredConstraints() {
  const prefs = loadPrefs();
  if (!prefs.camera && !prefs.microphone) return {};
  const devices = await listDevices();
  return {
    camera: deviceConstraint(devices.camera, prefs.camera),
    microphone: deviceConstraint(devices.microphone, prefs.microphone),
  };
}
