// The portal's browser script: plain DOM, no framework. It calls the JSON functions at
// the URLs of config.json and walks the user through sign-in (with the authenticator's
// code, or a recovery code when the phone is lost), account creation (or an invitation),
// the recovery codes, a new authenticator after a lost phone, and the renewal of
// credentials (expired, or before the deadline). Every answer ends in a visible state;
// errors go to an aria-live region in plain words, decided here from the answer's code
// (the service's own sentence names API fields and is never shown). Passwords, codes and
// tokens live only in memory and in the fields of the step that needs them: never in
// storage, the URL, the page's text or the console.
//
// Phones: a person cannot scan their own screen, so beside each QR code the page offers
// what works on the same device: the otpauth:// link and the key to copy for the
// authenticator, and for the password a form the browser's password manager saves (the
// password read from the QR code in the page, by jsqr served from our own origin).

interface PortalConfig {
  generatePassword: string;
  generate2fa: string;
  authenticate: string;
  /** openapi.yaml's Username pattern, its character class and its length (absent: the service alone checks). */
  username?: { pattern: string; characters: string; maxLength: number };
  /** ENROLLMENT_TTL in words. */
  enrollmentWindow?: string;
  selfRegistration?: boolean;
}

/** jsqr's decoding function, as its browser build defines it on window. */
type QrDecoder = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
// Merged into the DOM's Window (the page is a script, not a module): ESLint sees no use.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
interface Window {
  jsQR?: QrDecoder;
  /** The Credential Management API's password credential (Chromium): not in TypeScript's DOM library. */
  PasswordCredential?: new (data: { id: string; password: string; name?: string }) => Credential;
}

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: number | undefined;
  requestId: string | undefined;
}

type View =
  'signin' | 'create' | 'expired' | 'reset' | 'password' | '2fa' | 'codes' | 'activate' | 'recovered' | 'done';
/** What the enrollment steps are for: a new account, an invitation, a renewal, or a new authenticator after a lost phone. */
type Purpose = 'create' | 'invitation' | 'renewal' | 'recovery';
type Step = 'signin' | 'recovery' | 'create' | 'enroll';

/** The steps of a setup under way, which a reload would lose. */
const SETUP_VIEWS: View[] = ['password', '2fa', 'codes', 'activate'];
const VIEWS: View[] = [
  'signin',
  'create',
  'expired',
  'reset',
  'password',
  '2fa',
  'codes',
  'activate',
  'recovered',
  'done',
];

const state: {
  config: PortalConfig;
  purpose: Purpose;
  username: string;
  invitationToken?: string;
  renewalToken?: string;
  /** A helpdesk reset link's token (?reset=…): staged like a renewal. */
  resetToken?: string;
  enrollmentToken?: string;
  /** A renewal started before the deadline (the credentials in use still work). */
  earlyRenewal: boolean;
  /** The sign-in form asks for a recovery code instead of the app's code. */
  recoveryMode: boolean;
  /** The employee confirmed saving this enrollment's recovery codes. */
  codesSaved: boolean;
  /** How many codes this enrollment gave (a sign-in with the new authenticator answers as many left). */
  newCodeCount: number;
  /** Who is signed in (the header says so), once a sign-in succeeded. */
  signedIn?: string;
  view: View;
} = {
  config: { generatePassword: '/generate-password', generate2fa: '/generate-2fa', authenticate: '/authenticate' },
  purpose: 'create',
  username: '',
  earlyRenewal: false,
  recoveryMode: false,
  codesSaved: false,
  newCodeCount: 0,
  view: 'signin',
};

/** The recovery codes of the enrollment under way: from generate-2fa's answer until the codes step is left. */
let pendingCodes: string[] = [];
/**
 * The new password, read from its QR code in the page: in memory only, from the password
 * step until the activation (which it pre-fills) or until the enrollment is left.
 */
let newPassword: string | undefined;
/** The authenticator's key of the enrollment under way, for its copy button. */
let manualKey: string | undefined;
/** The blob: URL of the last "Download as text", revoked when the codes step is left. */
let downloadUrl: string | undefined;

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`missing #${id}`);
  return found as T;
}

function input(id: string): HTMLInputElement {
  return element<HTMLInputElement>(id);
}

// ---- messages -------------------------------------------------------------------

function showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
  const box = element('message');
  box.className = `message ${kind}`;
  box.textContent = text;
  box.hidden = false;
}

function clearMessage(): void {
  const box = element('message');
  box.hidden = true;
  box.textContent = '';
}

function announce(text: string): void {
  element('status').textContent = text;
}

function formatWhen(iso: unknown): string {
  const date = new Date(String(iso));
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { dateStyle: 'long', timeStyle: 'short' });
}

function seconds(count: number): string {
  if (count < 90) return `${count} second${count === 1 ? '' : 's'}`;
  const minutes = Math.ceil(count / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/** "in 30 seconds (after 14:05:12)": when to try again, from a Retry-After. */
function retryIn(wait: number): string {
  const at = new Date(Date.now() + wait * 1000).toLocaleTimeString();
  return `in ${seconds(wait)} (after ${at})`;
}

/** The username rule in words, with its length from openapi.yaml's pattern. */
function usernameRuleInWords(): string {
  const max = state.config.username?.maxLength ?? 64;
  return `A username is 1 to ${max} characters: letters of one alphabet (for example all Latin), digits and . _ - @, without spaces.`;
}

/**
 * The human sentence for an error answer of the contract (§2), in the context of a step:
 * every code of openapi.yaml's ErrorCode has its own words here. The service's `error`
 * sentence is never shown: it names API fields (`Field "username" must be…`).
 */
function describeFailure(answer: ApiAnswer, step: Step): string {
  const code = typeof answer.body.code === 'string' ? answer.body.code : '';
  const signingIn = step === 'signin' || step === 'recovery';
  switch (code) {
    case 'invalid_request':
      if (step === 'create') return `This username cannot be used. ${usernameRuleInWords()}`;
      if (signingIn) {
        return step === 'recovery'
          ? 'Check what you typed: your username (letters, digits and . _ - @) and a recovery code such as k7qm-3x9d-pw2h-t4nc.'
          : 'Check what you typed: your username (letters, digits and . _ - @) and the 6 digits your authenticator app shows.';
      }
      return 'The service did not accept what the page sent. Reload the page and start again; if it keeps happening, contact the IT service desk.';
    case 'invalid_credentials':
      if (step === 'recovery')
        return 'The username, password or recovery code is not correct. Check them and try again; each recovery code works only once.';
      if (step === 'enroll' && state.purpose === 'recovery')
        return 'The password or the code is not correct. Type your password and the current code from your new app (codes change every 30 seconds).';
      return step === 'enroll'
        ? 'The password or the code is not correct. Type the password from the first QR code and the current code from your app (codes change every 30 seconds).'
        : 'The username, password or code is not correct. Check them and try again (codes change every 30 seconds).';
    case 'invalid_token':
      if (state.purpose === 'invitation' && step === 'create')
        return 'This invitation link is no longer valid: it was already used to set up the account (sign in with your password and code), or it expired (ask HR for a new invitation).';
      if (state.purpose === 'renewal' && step === 'create' && state.resetToken !== undefined) {
        return 'This reset link is no longer valid: it was already used, or it expired. Ask the IT service desk for a new one; your current password and code still work if you have them.';
      }
      if (state.purpose === 'renewal' && step === 'create') {
        return state.earlyRenewal
          ? 'The renewal time ran out. Sign in again with your current password and code, then choose "Renew now" again.'
          : 'The renewal time ran out. Sign in again with your old password and code to start the renewal over.';
      }
      if (state.purpose === 'recovery' && step === 'enroll')
        return 'This setup session is no longer valid: it expired. Sign in again with your password and another recovery code to start over.';
      if (step === 'enroll')
        return 'This setup session is no longer valid: it expired, or the account is already set up. Sign in with your password and code, or start again.';
      if (signingIn)
        return 'The service did not accept this sign-in. Sign in again; if it keeps happening, contact the IT service desk.';
      return 'New accounts need an invitation here. Use the link HR sent you, or contact the IT service desk.';
    case 'unauthenticated':
    case 'forbidden':
      return "The credential service refused the page's request. Reload the page and try again; if it keeps happening, contact the IT service desk.";
    case 'credentials_expired':
      return 'Your credentials have expired and must be renewed: sign in with your password and code to start the renewal.';
    case 'account_disabled':
      return 'This account is disabled. If you think this is a mistake, contact the IT service desk.';
    case 'account_exists':
      return state.purpose === 'invitation'
        ? 'The account for this invitation already exists: the invitation was already used. Sign in with your password and code, or ask HR for a new invitation.'
        : takenInWords();
    case 'request_timeout':
      return 'Your request took too long to reach the service: the connection is slow or was interrupted. Check your connection and try again.';
    case 'too_many_requests': {
      const wait = answer.retryAfter ?? 30;
      // The service pauses a username from one address, a username from everywhere, or one address for every username (contract §6).
      return signingIn || step === 'enroll'
        ? `Too many failed sign-ins for this username or from your network, so sign-in is paused. Try again ${retryIn(wait)}.`
        : `Too many requests right now. Try again ${retryIn(wait)}.`;
    }
    case 'unavailable':
      return answer.retryAfter !== undefined
        ? `The service is busy or briefly unavailable. Try again ${retryIn(answer.retryAfter)}.`
        : 'The service is temporarily unavailable. Please try again in a minute.';
    case 'internal':
      return `Something went wrong on our side. Please try again; if it keeps happening, contact the IT service desk${answer.requestId ? ` (reference ${answer.requestId})` : ''}.`;
    case 'not_found':
    case 'method_not_allowed':
    case 'unsupported_media_type':
    case 'payload_too_large':
      return 'The portal could not talk to the credential service correctly. Reload the page and try again; if it keeps happening, contact the IT service desk.';
    case 'network':
      return 'The credential service cannot be reached. Check your connection and try again.';
    default:
      return `Unexpected answer from the service (HTTP ${answer.status}). Please try again shortly; if it keeps happening, contact the IT service desk.`;
  }
}

/**
 * A 409 to a creation without a token: the name is someone's — perhaps the person's own,
 * set up on a page they lost. The answer does not say which (§4), so the page names
 * every way on: sign in, the invitation link again, or the wait until the name frees.
 */
function takenInWords(): string {
  const ways = [
    'If the account is yours and active, sign in instead.',
    'Invited by HR and lost the setup page? Open your invitation link again: it works until the account is activated.',
  ];
  if (state.config.selfRegistration !== false) {
    const wait = state.config.enrollmentWindow ?? 'a few minutes';
    ways.push(
      `Created it here yourself and lost the setup page before its first sign-in? The name is freed ${wait} after you started: create it again then.`,
    );
  }
  return `The username is taken (or one that looks the same). ${ways.join(' ')}`;
}

// ---- requests -----------------------------------------------------------------

async function post(url: string, body: Record<string, string>): Promise<ApiAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    return { status: 0, body: { code: 'network' }, retryAfter: undefined, requestId: undefined };
  }
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = await response.json();
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) parsed = value as Record<string, unknown>;
  } catch {
    // not JSON: described by its status below
  }
  if (response.status === 503 && parsed.code === undefined) parsed = { code: 'unavailable' };
  const retry = Number(response.headers.get('Retry-After'));
  return {
    status: response.status,
    body: parsed,
    retryAfter: Number.isFinite(retry) && retry > 0 ? Math.ceil(retry) : undefined,
    requestId: response.headers.get('X-Request-Id') ?? undefined,
  };
}

async function busy<T>(form: HTMLElement, work: () => Promise<T>): Promise<T> {
  const buttons = Array.from(form.querySelectorAll('button'));
  buttons.forEach((button) => (button.disabled = true));
  form.setAttribute('aria-busy', 'true');
  announce('Working…');
  try {
    return await work();
  } finally {
    buttons.forEach((button) => (button.disabled = false));
    form.removeAttribute('aria-busy');
  }
}

// ---- views --------------------------------------------------------------------

function show(view: View, focus?: HTMLElement): void {
  // The recovery codes are on the page only while their step is shown.
  if (state.view === 'codes' && view !== 'codes') clearCodes();
  state.view = view;
  for (const name of VIEWS) element(`view-${name}`).hidden = name !== view;
  for (const [id, current] of [
    ['nav-signin', view === 'signin'],
    ['nav-create', view === 'create'],
  ] as const) {
    if (current) element(id).setAttribute('aria-current', 'page');
    else element(id).removeAttribute('aria-current');
  }
  // Signed in: the header names who, and offers to sign out (and start over) instead of signing in.
  const signedIn = view === 'done' && state.signedIn !== undefined;
  element('nav-signin').hidden = signedIn;
  element('nav-create').hidden = signedIn;
  element('nav-user').hidden = !signedIn;
  element('nav-signout').hidden = !signedIn;
  element('nav-username').textContent = signedIn ? (state.signedIn as string) : '';
  const target = focus ?? element(`view-${view}`).querySelector<HTMLElement>('h1');
  if (target) {
    if (
      !target.hasAttribute('tabindex') &&
      !(target instanceof HTMLInputElement) &&
      !(target instanceof HTMLButtonElement)
    )
      target.tabIndex = -1;
    target.focus();
  }
  const heading = element(`view-${view}`).querySelector('h1')?.textContent ?? '';
  document.title = `COFRAP — ${heading}`;
}

/** Switches the sign-in form between the app's 6-digit code and a recovery code. */
function setRecoveryMode(on: boolean, focus = true): void {
  state.recoveryMode = on;
  element('signin-totp-field').hidden = on;
  element('signin-recovery-field').hidden = !on;
  input('signin-code').value = '';
  input('signin-recovery').value = '';
  element('toggle-recovery').textContent = on
    ? 'Use the code from my authenticator app instead'
    : 'Lost your phone? Use a recovery code';
  if (focus) input(on ? 'signin-recovery' : 'signin-code').focus();
}

function showSignIn(): void {
  state.purpose = 'create';
  state.invitationToken = undefined;
  resetEnrollment();
  setRecoveryMode(false, false);
  show('signin', input('signin-username'));
}

function showCreate(): void {
  if (state.purpose === 'renewal' || state.purpose === 'recovery') state.purpose = 'create';
  resetEnrollment();
  element('invitation-note').hidden = state.purpose !== 'invitation';
  show('create', input('create-username'));
}

/** "in 10 days", "tomorrow", "in 5 hours": how far away a date is, in words. */
function untilInWords(iso: unknown): string {
  const left = new Date(String(iso)).getTime() - Date.now();
  if (Number.isNaN(left)) return 'soon';
  const words = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  const days = Math.round(left / 86_400_000);
  if (days >= 1) return words.format(days, 'day');
  const hours = Math.round(left / 3_600_000);
  if (hours >= 1) return words.format(hours, 'hour');
  return words.format(Math.max(0, Math.round(left / 60_000)), 'minute');
}

function formatDay(iso: unknown): string {
  const date = new Date(String(iso));
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleDateString(undefined, { dateStyle: 'long' });
}

/** The signed-in view: the expiry, what changed, and the offers to renew early or to get new recovery codes. */
function showSignedIn(body: Record<string, unknown>, change?: string): void {
  const who = typeof body.username === 'string' ? body.username : state.username;
  state.signedIn = who;
  element('done-text').textContent =
    `Signed in as ${who}. Your credentials are valid until ${formatWhen(body.expires_at)}.`;
  for (const id of ['signin-password', 'signin-code', 'signin-recovery', 'activate-password', 'activate-code'])
    input(id).value = '';
  resetEnrollment();
  state.earlyRenewal = false;
  element('done-change').textContent = change ?? '';
  element('done-change').hidden = change === undefined;

  const renewal = typeof body.renewal_token === 'string' && body.renewal_token !== '' ? body.renewal_token : undefined;
  state.renewalToken = renewal;
  element('renewal-offer').hidden = renewal === undefined;
  if (renewal !== undefined) {
    element('renewal-deadline').textContent = formatDay(body.expires_at);
    element('renewal-text').textContent =
      `Your credentials expire ${untilInWords(body.expires_at)}, on ${formatWhen(body.expires_at)}. ` +
      'Renew now: you get a new password, a new entry for your authenticator app and new recovery codes. ' +
      'Your current password and code keep working until you first sign in with the new ones.';
  }

  const left = typeof body.recovery_codes_left === 'number' ? body.recovery_codes_left : undefined;
  const warn = left !== undefined && left <= 3;
  element('codes-warning').hidden = !warn;
  element('codes-recover').hidden = !warn || left === 0;
  if (warn) {
    const offered = renewal !== undefined;
    element('codes-warning-text').textContent =
      left === 0
        ? 'No recovery codes left — if you lose your phone, only the IT service desk can let you back in. To get new codes, ' +
          (offered
            ? 'renew your credentials with "Renew now" above.'
            : 'renew your credentials: the portal offers renewal here in the weeks before they expire.')
        : `Only ${left} recovery code${left === 1 ? '' : 's'} left — get new ones before you run out: sign in with one of them ` +
          '(you then set up your authenticator app again and get 10 new codes), or ' +
          (offered
            ? 'renew your credentials with "Renew now" above, which gives you 10 new codes too.'
            : 'renew your credentials, which gives you 10 new codes too (the portal offers renewal here in the weeks before they expire).');
  }
  clearMessage();
  show('done');
  announce(`Signed in as ${who}.`);
}

function qrSource(base64: unknown): string {
  return `data:image/png;base64,${String(base64)}`;
}

// ---- enrollment steps ---------------------------------------------------------

/** Titles, labels and notes of the enrollment steps for the flow under way. */
function labelSteps(): void {
  const recovery = state.purpose === 'recovery';
  const total = recovery ? 3 : 4;
  const first = recovery ? 1 : 2;
  element('twofa-title').textContent =
    `Step ${first} of ${total} — ${recovery ? 'your new authenticator app' : 'your authenticator app'}`;
  element('twofa-intro').textContent = recovery
    ? 'Add this entry to the authenticator app on your new phone (for example FreeOTP, Aegis or Google Authenticator): scan the QR code, or, on that phone, tap "Add to my authenticator app".'
    : 'Add this entry to an authenticator app (for example FreeOTP, Aegis or Google Authenticator): scan the QR code with your phone, or, on the phone itself, tap "Add to my authenticator app".';
  element('codes-title').textContent =
    `Step ${first + 1} of ${total} — ${recovery ? 'your new recovery codes' : 'your recovery codes'}`;
  element('codes-replace').hidden = !(recovery || state.purpose === 'renewal');
  element('codes-replace').textContent = recovery
    ? 'These new codes replace your old ones as soon as your new authenticator is active.'
    : 'These new codes replace your old ones as soon as your new credentials are active.';
  element('activate-title').textContent =
    `Step ${total} of ${total} — ${recovery ? 'activate your new authenticator' : 'activate'}`;
  element('activate-password-label').textContent = recovery ? 'Your password' : 'Password (from the first QR code)';
  input('activate-password').autocomplete = recovery ? 'current-password' : 'new-password';
  element('activate-code-label').textContent = recovery
    ? 'First 6-digit code from your new app'
    : 'First 6-digit code from your app';
  element('activate-note').textContent = recovery
    ? 'Type your password again and the code your new app shows. After this sign-in your old authenticator and your old recovery codes stop working.'
    : state.purpose === 'renewal'
      ? state.earlyRenewal
        ? 'Until this sign-in your current password and code keep working; after it, only the new ones do.'
        : 'This sign-in makes the new password and code yours.'
      : 'This first sign-in activates your account.';
}

/** Removes the recovery codes from the page and from memory. */
function clearCodes(): void {
  element('recovery-codes').replaceChildren();
  input('codes-saved').checked = false;
  pendingCodes = [];
  if (downloadUrl !== undefined) URL.revokeObjectURL(downloadUrl);
  downloadUrl = undefined;
}

/** Forgets the enrollment under way: QR codes, key, codes, token. */
function resetEnrollment(): void {
  element<HTMLImageElement>('password-qr').removeAttribute('src');
  element<HTMLImageElement>('totp-qr').removeAttribute('src');
  element('manual-key').textContent = '';
  element<HTMLAnchorElement>('totp-link').removeAttribute('href');
  manualKey = undefined;
  newPassword = undefined;
  clearPasswordForm();
  clearCodes();
  state.enrollmentToken = undefined;
  state.codesSaved = false;
  state.newCodeCount = 0;
  input('activate-password').value = '';
  input('activate-code').value = '';
}

function showCodes(): void {
  const items = pendingCodes.map((code) => {
    const item = document.createElement('li');
    const text = document.createElement('code');
    text.textContent = code;
    item.append(text);
    return item;
  });
  element('recovery-codes').replaceChildren(...items);
  input('codes-saved').checked = false;
  show('codes', element('codes-title'));
  announce(`Your ${items.length} recovery codes are shown. Download or copy them, then confirm that you saved them.`);
}

function showActivate(): void {
  element('to-codes').textContent = 'Back to the first sign-in';
  // The new password, read from its QR code in this page: nobody retypes 24 random characters.
  const field = input('activate-password');
  const prefilled = state.purpose !== 'recovery' && newPassword !== undefined;
  if (prefilled && field.value === '') field.value = newPassword as string;
  element('activate-prefilled').hidden = !prefilled;
  show('activate', element('activate-title'));
  announce(
    state.purpose === 'recovery'
      ? 'Enter your password and the first code of your new app.'
      : 'Enter your password and the first code of your app.',
  );
}

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}

/** "Download as text": a small text file made in the page (no network), named after the user. */
function downloadCodes(): void {
  if (pendingCodes.length === 0) return;
  const now = new Date();
  const date = `${now.getFullYear()}-${twoDigits(now.getMonth() + 1)}-${twoDigits(now.getDate())}`;
  const text = [
    'COFRAP recovery codes',
    `Username: ${state.username}`,
    `Date: ${date}`,
    '',
    'If you lose your phone, each code signs you in once instead of the 6-digit code.',
    'Keep this file somewhere safe, not only on your phone.',
    '',
    ...pendingCodes,
    '',
  ].join('\n');
  if (downloadUrl !== undefined) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = downloadUrl;
  link.download = `cofrap-recovery-codes-${state.username}.txt`;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  showMessage(`Your recovery codes are downloaded as ${link.download}. Keep the file somewhere safe.`, 'info');
}

/** "Copy": the codes, one a line, to the clipboard; where the browser refuses, they are selected for Ctrl+C. */
async function copyCodes(): Promise<void> {
  if (pendingCodes.length === 0) return;
  const clipboard: Clipboard | undefined = navigator.clipboard;
  try {
    if (clipboard === undefined) throw new Error('no clipboard');
    await clipboard.writeText(pendingCodes.join('\n'));
    showMessage(
      `The ${pendingCodes.length} recovery codes are copied. Paste them into your password manager or a safe note now.`,
      'info',
    );
  } catch {
    window.getSelection()?.selectAllChildren(element('recovery-codes'));
    showMessage(
      'This browser did not let the page copy. The codes are selected: press Ctrl+C (⌘C on a Mac) to copy them.',
      'info',
    );
  }
}

// ---- flows --------------------------------------------------------------------

/** A code as typed or pasted ("123 456", "123-456", "123456"): its digits, when the rest is only spaces and hyphens. */
function sixDigits(typed: string): string {
  return typed.replace(/[\s\u2010-\u2015-]+/g, '');
}

/** The username as the service stores it (§3: trimmed, NFKC, lower case), and what is wrong with it in words, if anything. */
function checkUsername(typed: string): { username: string; problem?: string } {
  const username = typed.normalize('NFKC').trim().toLowerCase();
  const rule = state.config.username;
  if (username === '') return { username, problem: `Enter the username you want. ${usernameRuleInWords()}` };
  if (rule === undefined) return { username };
  if (new RegExp(rule.pattern, 'u').test(username)) return { username };
  const allowed = new RegExp(`^${rule.characters}$`, 'u');
  const refused = [...new Set(Array.from(username).filter((character) => !allowed.test(character)))];
  const named = refused.map((character) => (/\s/u.test(character) ? 'spaces' : `"${character}"`)).join(', ');
  if (refused.length > 0) return { username, problem: `A username cannot contain ${named}. ${usernameRuleInWords()}` };
  return {
    username,
    problem: `This username is ${Array.from(username).length} characters long. ${usernameRuleInWords()}`,
  };
}

async function signIn(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearMessage();
  const recovery = state.recoveryMode;
  const username = input('signin-username').value.trim();
  const password = input('signin-password').value;
  const codeField = input(recovery ? 'signin-recovery' : 'signin-code');
  // A recovery code is sent without spaces or hyphens, in lower case (the service ignores them too).
  const code = recovery ? codeField.value.replace(/[\s-]+/g, '').toLowerCase() : sixDigits(codeField.value);
  if (username === '' || password === '' || (recovery ? code === '' : !/^\d{6}$/.test(code))) {
    showMessage(
      recovery
        ? 'Enter your username, your password and one of your recovery codes.'
        : 'Enter your username, your password and the 6-digit code from your authenticator app.',
    );
    (username === '' ? input('signin-username') : password === '' ? input('signin-password') : codeField).focus();
    return;
  }
  const body: Record<string, string> = recovery
    ? { username, password, recovery_code: code }
    : { username, password, totp: code };
  const answer = await busy(element('signin-form'), () => post(state.config.authenticate, body));
  state.username = username;
  codeField.value = '';
  if (answer.status === 200) {
    if (recovery && typeof answer.body.enrollment_token === 'string') return recovered(answer.body.enrollment_token);
    return showSignedIn(answer.body);
  }
  if (
    answer.status === 403 &&
    answer.body.code === 'credentials_expired' &&
    typeof answer.body.renewal_token === 'string'
  ) {
    state.purpose = 'renewal';
    state.earlyRenewal = false;
    state.renewalToken = answer.body.renewal_token;
    input('signin-password').value = '';
    setRecoveryMode(false, false);
    element('expired-text').textContent =
      `Your password and ${recovery ? 'recovery code' : 'code'} are right, but your credentials are more than six months old and must be renewed. ` +
      `Renew them now, before ${formatWhen(answer.body.renewal_expires_at)}: you get a new password, a new entry for your authenticator app and new recovery codes.`;
    show('expired', element('renew'));
    return;
  }
  showMessage(describeFailure(answer, recovery ? 'recovery' : 'signin'));
  (answer.body.code === 'invalid_credentials' ? input('signin-password') : input('signin-username')).focus();
}

/** A recovery-code sign-in succeeded: straight on to the new authenticator. */
async function recovered(enrollmentToken: string): Promise<void> {
  resetEnrollment();
  state.purpose = 'recovery';
  state.earlyRenewal = false;
  state.enrollmentToken = enrollmentToken;
  input('signin-password').value = '';
  setRecoveryMode(false, false);
  labelSteps();
  const problem = await enroll(element('signin-form'));
  if (problem === undefined) {
    showMessage(
      'You signed in with a recovery code. Now set up the authenticator app on your new phone: your old phone and old codes keep working until the first sign-in with the new app.',
      'info',
    );
    return;
  }
  // The code is used up, but its enrollment token stays valid for a while: let the user try again.
  show('recovered', element('recovered-enroll'));
  showMessage(problem);
}

async function generatePassword(form: HTMLElement, username: string): Promise<void> {
  const body: Record<string, string> = { username };
  if (state.purpose === 'invitation' && state.invitationToken) body.invitation_token = state.invitationToken;
  if (state.purpose === 'renewal' && state.renewalToken) body.renewal_token = state.renewalToken;
  if (state.purpose === 'renewal' && state.resetToken) body.reset_token = state.resetToken;
  const answer = await busy(form, () => post(state.config.generatePassword, body));
  if (answer.status !== 200 && answer.status !== 201) {
    showMessage(describeFailure(answer, 'create'));
    return;
  }
  resetEnrollment();
  state.username = typeof answer.body.username === 'string' ? answer.body.username : username;
  state.enrollmentToken = String(answer.body.enrollment_token);
  state.renewalToken = undefined;
  state.resetToken = undefined;
  state.invitationToken = undefined;
  labelSteps();
  const source = qrSource(answer.body.qr_code_base64);
  element<HTMLImageElement>('password-qr').src = source;
  clearMessage();
  show('password', element('password-title'));
  announce('Your new password is shown as a QR code. Save it now, it will not be shown again.');
  await offerPasswordManager(source, state.enrollmentToken);
}

// ---- the password on this device ------------------------------------------------

let decoder: Promise<QrDecoder> | undefined;

/** jsqr, loaded from our own origin the first time a password QR code is shown. */
function loadDecoder(): Promise<QrDecoder> {
  decoder ??= new Promise<QrDecoder>((resolve, reject) => {
    if (window.jsQR !== undefined) return resolve(window.jsQR);
    const script = document.createElement('script');
    script.src = 'jsqr.js';
    script.addEventListener('load', () =>
      window.jsQR !== undefined ? resolve(window.jsQR) : reject(new Error('jsqr defined nothing')),
    );
    script.addEventListener('error', () => reject(new Error('jsqr.js did not load')));
    document.head.append(script);
  }).catch((error: unknown) => {
    decoder = undefined;
    throw error;
  });
  return decoder;
}

/** The text of a QR code image (a data: URL of a PNG): its pixels on a canvas, read by jsqr. */
async function readQr(source: string): Promise<string> {
  const image = new Image();
  image.src = source;
  const [decode] = await Promise.all([loadDecoder(), image.decode()]);
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (context === null) throw new Error('no canvas');
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const found = decode(pixels.data, canvas.width, canvas.height);
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (found === null || found.data === '') throw new Error('no QR code in the image');
  return found.data;
}

/**
 * The password QR code read in the page: kept in memory for the activation, and put in a
 * form the browser's password manager recognises (username + new-password) with a copy
 * button. Where it cannot be read, the form stays hidden and the QR code is the only way.
 */
async function offerPasswordManager(source: string, enrollment: string | undefined): Promise<void> {
  let password: string;
  try {
    password = await readQr(source);
  } catch {
    return;
  }
  // The employee may have moved on (or started over) while the decoder loaded.
  if (state.view !== 'password' || state.enrollmentToken !== enrollment) return;
  newPassword = password;
  input('save-username').value = state.username;
  input('save-password').value = password;
  element('save-form').hidden = false;
}

/** Hands the password to the browser's password manager: Chromium's Credential Management API where there is one; the form's submit event otherwise. */
function savePassword(event: SubmitEvent): void {
  event.preventDefault();
  clearMessage();
  if (newPassword === undefined) return;
  showMessage(
    'If your browser or password manager offers to save the password, accept it. If it does not, use "Copy password" and paste it into your password manager.',
    'info',
  );
  const Credential = window.PasswordCredential;
  // The browser's save prompt answers when the person does: nothing waits for it.
  if (Credential !== undefined)
    void navigator.credentials
      .store(new Credential({ id: state.username, password: newPassword, name: state.username }))
      .catch(() => undefined);
}

async function copyPassword(): Promise<void> {
  if (newPassword === undefined) return;
  await copyText(
    newPassword,
    'The password is copied. Paste it into your password manager now.',
    input('save-password'),
  );
}

/** Copies a text; where the browser refuses, selects `fallback` for Ctrl+C. */
async function copyText(text: string, done: string, fallback: HTMLElement): Promise<void> {
  const clipboard: Clipboard | undefined = navigator.clipboard;
  try {
    if (clipboard === undefined) throw new Error('no clipboard');
    await clipboard.writeText(text);
    showMessage(done, 'info');
  } catch {
    if (fallback instanceof HTMLInputElement) {
      // A password field cannot be selected for copying: the QR code remains the way.
      showMessage(
        'This browser did not let the page copy. Scan the QR code with your password manager instead.',
        'info',
      );
      return;
    }
    window.getSelection()?.selectAllChildren(fallback);
    showMessage(
      'This browser did not let the page copy. The text is selected: press Ctrl+C (⌘C on a Mac) to copy it.',
      'info',
    );
  }
}

/** The password form is emptied when its step is left; the password stays in memory for the activation. */
function clearPasswordForm(): void {
  element('save-form').hidden = true;
  input('save-username').value = '';
  input('save-password').value = '';
}

async function create(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearMessage();
  const field = input('create-username');
  const { username, problem } = checkUsername(field.value);
  if (problem !== undefined) {
    field.setAttribute('aria-invalid', 'true');
    showMessage(problem);
    field.focus();
    return;
  }
  field.removeAttribute('aria-invalid');
  await generatePassword(element('create-form'), username);
}

/** Expired credentials: the renewal the sign-in answered. */
async function renew(): Promise<void> {
  clearMessage();
  state.earlyRenewal = false;
  await generatePassword(element('view-expired'), state.username);
}

/** "Renew now", inside the renewal window: the same renewal, while the credentials in use still work. */
async function renewNow(): Promise<void> {
  clearMessage();
  if (state.renewalToken === undefined) return;
  state.purpose = 'renewal';
  state.earlyRenewal = true;
  await generatePassword(element('view-done'), state.username);
}

/**
 * generate-2fa with the enrollment token: the authenticator's QR code and key (the recovery
 * codes wait in memory for their step). Answers undefined, or what went wrong in words.
 */
async function enroll(form: HTMLElement): Promise<string | undefined> {
  clearMessage();
  if (state.enrollmentToken === undefined) {
    showCreate();
    return 'This setup session is no longer valid. Start again.';
  }
  const answer = await busy(form, () =>
    post(state.config.generate2fa, { username: state.username, enrollment_token: state.enrollmentToken as string }),
  );
  if (answer.status !== 200) return describeFailure(answer, 'enroll');
  // The password QR code is gone from the page once the user moved on.
  element<HTMLImageElement>('password-qr').removeAttribute('src');
  clearPasswordForm();
  element<HTMLImageElement>('totp-qr').src = qrSource(answer.body.qr_code_2fa_base64);
  manualKey = String(answer.body.manual_entry_key);
  element('manual-key').textContent = manualKey.replace(/(.{4})(?=.)/g, '$1 ');
  // On the phone itself: the otpauth:// link opens the authenticator app with this entry.
  const uri =
    typeof answer.body.otpauth_uri === 'string' && answer.body.otpauth_uri.startsWith('otpauth://')
      ? answer.body.otpauth_uri
      : undefined;
  const link = element<HTMLAnchorElement>('totp-link');
  link.hidden = uri === undefined;
  if (uri !== undefined) link.href = uri;
  else link.removeAttribute('href');
  const codes = answer.body.recovery_codes;
  pendingCodes = Array.isArray(codes) ? codes.filter((code): code is string => typeof code === 'string') : [];
  state.newCodeCount = pendingCodes.length;
  state.codesSaved = pendingCodes.length === 0;
  element('to-codes').textContent = state.codesSaved
    ? 'I added it — next: first sign-in'
    : 'I added it — next: recovery codes';
  show('2fa', element('twofa-title'));
  announce('Scan the QR code with your authenticator app, or type the key by hand.');
  return undefined;
}

/** The enrollment step of a flow that stays on its page when generate-2fa fails. */
async function enrollFrom(form: HTMLElement): Promise<void> {
  const problem = await enroll(form);
  if (problem !== undefined) showMessage(problem);
}

function toCodes(): void {
  clearMessage();
  if (state.codesSaved) return showActivate();
  showCodes();
}

function confirmCodes(event: SubmitEvent): void {
  event.preventDefault();
  clearMessage();
  if (!input('codes-saved').checked) {
    showMessage(
      'Save your recovery codes first (download or copy them), then tick "I have saved them": they will not be shown again.',
    );
    input('codes-saved').focus();
    return;
  }
  state.codesSaved = true;
  showActivate();
}

async function activate(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearMessage();
  const password = input('activate-password').value;
  const code = sixDigits(input('activate-code').value);
  const recovery = state.purpose === 'recovery';
  if (password === '' || !/^\d{6}$/.test(code)) {
    showMessage(
      recovery
        ? 'Enter your password and the 6-digit code your new app shows now.'
        : 'Enter the password from the first QR code and the 6-digit code your app shows now.',
    );
    (password === '' ? input('activate-password') : input('activate-code')).focus();
    return;
  }
  const answer = await busy(element('activate-form'), () =>
    post(state.config.authenticate, { username: state.username, password, totp: code }),
  );
  input('activate-code').value = '';
  if (answer.status === 200) {
    // The old authenticator signs in too until the new one is first used: only the new one
    // answers as many codes left as it brought.
    if (recovery && answer.body.recovery_codes_left !== state.newCodeCount) {
      showMessage(
        'That code is from your old authenticator: you are signed in, but your new one is not active yet. Type the code your new app shows.',
      );
      input('activate-code').focus();
      return;
    }
    const change = recovery
      ? 'Your new authenticator is active. The old one and your old recovery codes no longer work.'
      : state.purpose === 'renewal'
        ? 'Your credentials are renewed. The new password, code and recovery codes are active; the old ones no longer work.'
        : undefined;
    return showSignedIn(answer.body, change);
  }
  showMessage(describeFailure(answer, 'enroll'));
  input(answer.body.code === 'invalid_credentials' ? 'activate-password' : 'activate-code').focus();
}

/** From the warning about few codes left: the sign-in form, ready for a recovery code. */
function toRecoverySignIn(): void {
  const username = state.username;
  showSignIn();
  input('signin-username').value = username;
  setRecoveryMode(true, false);
  input('signin-password').focus();
  showMessage(
    'Sign in with your password and one of your recovery codes: you then set up your authenticator app again and get 10 new codes.',
    'info',
  );
}

function signOut(): void {
  state.username = '';
  state.signedIn = undefined;
  state.renewalToken = undefined;
  input('signin-username').value = '';
  clearMessage();
  showMessage('You are signed out.', 'info');
  showSignIn();
}

// ---- start --------------------------------------------------------------------

async function loadConfig(): Promise<void> {
  try {
    const response = await fetch('config.json', { cache: 'no-store', credentials: 'same-origin' });
    if (!response.ok) throw new Error(String(response.status));
    const value = (await response.json()) as Partial<PortalConfig>;
    for (const key of ['generatePassword', 'generate2fa', 'authenticate'] as const) {
      if (typeof value[key] === 'string' && value[key] !== '') state.config[key] = value[key];
    }
    if (
      typeof value.username?.pattern === 'string' &&
      typeof value.username.characters === 'string' &&
      typeof value.username.maxLength === 'number'
    ) {
      state.config.username = value.username;
    }
    if (typeof value.enrollmentWindow === 'string' && value.enrollmentWindow !== '')
      state.config.enrollmentWindow = value.enrollmentWindow;
    if (typeof value.selfRegistration === 'boolean') state.config.selfRegistration = value.selfRegistration;
  } catch {
    // the same-origin defaults of the development server
  }
}

function on(id: string, type: string, handler: (event: Event) => unknown): void {
  element(id).addEventListener(type, (event) => {
    void Promise.resolve(handler(event)).catch(() =>
      showMessage('Something went wrong in the page. Reload it and try again.'),
    );
  });
}

async function start(): Promise<void> {
  on('signin-form', 'submit', (event) => signIn(event as SubmitEvent));
  on('toggle-recovery', 'click', () => {
    clearMessage();
    setRecoveryMode(!state.recoveryMode);
  });
  on('create-form', 'submit', (event) => create(event as SubmitEvent));
  on('activate-form', 'submit', (event) => activate(event as SubmitEvent));
  on('codes-form', 'submit', (event) => confirmCodes(event as SubmitEvent));
  on('codes-download', 'click', downloadCodes);
  on('codes-copy', 'click', copyCodes);
  on('save-form', 'submit', (event) => savePassword(event as SubmitEvent));
  on('copy-password', 'click', copyPassword);
  on('copy-key', 'click', () =>
    manualKey === undefined
      ? undefined
      : copyText(
          manualKey,
          'The key is copied. Paste it into your authenticator app (time-based, 6 digits, 30 seconds).',
          element('manual-key'),
        ),
  );
  on('nav-signout', 'click', signOut);
  // A reload or a closed tab in the middle of a setup loses the only copy of the password
  // QR code (and leaves the name taken until the enrollment window lapses): the browser asks first.
  window.addEventListener('beforeunload', (event) => {
    if (state.enrollmentToken !== undefined && SETUP_VIEWS.includes(state.view)) event.preventDefault();
  });
  on('renew', 'click', renew);
  on('renew-now', 'click', renewNow);
  on('to-2fa', 'click', () => enrollFrom(element('view-password')));
  on('to-codes', 'click', toCodes);
  on('reset-start', 'click', () => {
    clearMessage();
    void generatePassword(element('view-reset'), state.username);
  });
  on('back-to-qr', 'click', () => {
    clearMessage();
    show('2fa', element('twofa-title'));
  });
  on('recovered-enroll', 'click', () => enrollFrom(element('view-recovered')));
  on('codes-recover', 'click', toRecoverySignIn);
  on('sign-out', 'click', signOut);
  on('nav-signin', 'click', () => {
    clearMessage();
    showSignIn();
  });
  on('nav-create', 'click', () => {
    clearMessage();
    state.purpose = 'create';
    showCreate();
  });
  on('to-create', 'click', (event) => {
    event.preventDefault();
    clearMessage();
    state.purpose = 'create';
    showCreate();
  });
  await loadConfig();

  const params = new URLSearchParams(window.location.search);
  const invitation = params.get('invitation');
  const reset = params.get('reset');
  const username = params.get('username');
  if (reset !== null && reset !== '' && username !== null && username !== '') {
    // The IT service desk's reset link: new credentials, staged like a renewal.
    state.purpose = 'renewal';
    state.earlyRenewal = true;
    state.resetToken = reset;
    state.username = username;
    element('reset-user').textContent = username;
    window.history.replaceState(null, '', window.location.pathname);
    show('reset', element('reset-start'));
  } else if (invitation !== null && invitation !== '') {
    state.purpose = 'invitation';
    state.invitationToken = invitation;
    input('create-username').value = username ?? '';
    element('invitation-user').textContent = username ?? '';
    // The token stays in memory only: drop it from the address bar and history.
    window.history.replaceState(null, '', window.location.pathname);
    showCreate();
  } else if (params.has('create')) {
    showCreate();
  } else {
    if (username !== null) input('signin-username').value = username;
    show('signin', input('signin-username'));
  }
  document.documentElement.dataset.ready = 'true';
}

void start();
