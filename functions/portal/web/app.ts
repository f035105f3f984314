// The portal's browser script: plain DOM, no framework. It calls the JSON functions at
// the URLs of config.json and walks the user through sign-in, account creation (or an
// invitation), and the renewal of expired credentials. Every answer ends in a visible
// state; errors go to an aria-live region in plain words.

interface PortalConfig {
  generatePassword: string;
  generate2fa: string;
  authenticate: string;
}

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: number | undefined;
  requestId: string | undefined;
}

type View = 'signin' | 'create' | 'expired' | 'password' | '2fa' | 'done';
type Purpose = 'create' | 'invitation' | 'renewal';

const VIEWS: View[] = ['signin', 'create', 'expired', 'password', '2fa', 'done'];

const state: {
  config: PortalConfig;
  purpose: Purpose;
  username: string;
  invitationToken?: string;
  renewalToken?: string;
  enrollmentToken?: string;
} = {
  config: { generatePassword: '/generate-password', generate2fa: '/generate-2fa', authenticate: '/authenticate' },
  purpose: 'create',
  username: '',
};

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

/** The human sentence for an error answer of the contract (§2), in the context of a step. */
function describeFailure(answer: ApiAnswer, step: 'signin' | 'create' | 'enroll'): string {
  const code = typeof answer.body.code === 'string' ? answer.body.code : '';
  const detail = typeof answer.body.error === 'string' ? answer.body.error : '';
  switch (code) {
    case 'invalid_request':
      return `Please check what you typed: ${detail}`;
    case 'invalid_credentials':
      return step === 'enroll'
        ? 'The password or the code is not correct. Type the password from the first QR code and the current code from your app (codes change every 30 seconds).'
        : 'The username, password or code is not correct. Check them and try again (codes change every 30 seconds).';
    case 'invalid_token':
      if (state.purpose === 'invitation' && step === 'create') return 'This invitation link is no longer valid: it was already used to set up the account (sign in with your password and code), or it expired (ask HR for a new invitation).';
      if (state.purpose === 'renewal' && step === 'create') return 'The renewal time ran out. Sign in again with your old password and code to start the renewal over.';
      if (step === 'enroll') return 'This setup session is no longer valid: it expired, or the account is already set up. Sign in with your password and code, or start again.';
      return 'New accounts need an invitation here. Use the link HR sent you, or contact the IT service desk.';
    case 'credentials_expired':
      return 'Your credentials have expired and must be renewed.';
    case 'account_disabled':
      return 'This account is disabled. If you think this is a mistake, contact the IT service desk.';
    case 'account_exists':
      return state.purpose === 'invitation'
        ? 'The account for this invitation already exists: the invitation was already used. Sign in with your password and code, or ask HR for a new invitation.'
        : 'An account with this username already exists. Sign in instead, or use the invitation link HR sent you.';
    case 'too_many_requests': {
      const wait = answer.retryAfter ?? 30;
      const at = new Date(Date.now() + wait * 1000).toLocaleTimeString();
      return `Too many failed attempts for this account. Try again in ${seconds(wait)} (after ${at}).`;
    }
    case 'unavailable':
      return 'The service is temporarily unavailable. Please try again shortly.';
    case 'internal':
      return `Something went wrong on our side. Please try again; if it keeps happening, contact the IT service desk${answer.requestId ? ` (reference ${answer.requestId})` : ''}.`;
    case 'not_found':
    case 'method_not_allowed':
    case 'unsupported_media_type':
    case 'payload_too_large':
      return 'The portal could not talk to the credential service correctly. Reload the page and try again; if it keeps happening, contact the IT service desk.';
    default:
      return detail !== '' ? detail : `Unexpected answer from the service (HTTP ${answer.status}). Please try again shortly.`;
  }
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
    return { status: 0, body: { code: 'network', error: 'The credential service cannot be reached. Check your connection and try again.' }, retryAfter: undefined, requestId: undefined };
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
  for (const name of VIEWS) element(`view-${name}`).hidden = name !== view;
  for (const [id, current] of [['nav-signin', view === 'signin'], ['nav-create', view === 'create']] as const) {
    if (current) element(id).setAttribute('aria-current', 'page');
    else element(id).removeAttribute('aria-current');
  }
  const target = focus ?? element(`view-${view}`).querySelector<HTMLElement>('h1');
  if (target) {
    if (!target.hasAttribute('tabindex') && !(target instanceof HTMLInputElement) && !(target instanceof HTMLButtonElement)) target.tabIndex = -1;
    target.focus();
  }
  const heading = element(`view-${view}`).querySelector('h1')?.textContent ?? '';
  document.title = `COFRAP — ${heading}`;
}

function showSignIn(): void {
  state.purpose = 'create';
  state.invitationToken = undefined;
  show('signin', input('signin-username'));
}

function showCreate(): void {
  if (state.purpose === 'renewal') state.purpose = 'create';
  element('invitation-note').hidden = state.purpose !== 'invitation';
  show('create', input('create-username'));
}

function showSignedIn(body: Record<string, unknown>): void {
  const who = String(body.username ?? state.username);
  element('done-text').textContent = `Signed in as ${who}. Your credentials are valid until ${formatWhen(body.expires_at)}.`;
  for (const id of ['signin-password', 'signin-code', 'activate-password', 'activate-code']) input(id).value = '';
  state.enrollmentToken = undefined;
  state.renewalToken = undefined;
  clearMessage();
  show('done');
  announce(`Signed in as ${who}.`);
}

function qrSource(base64: unknown): string {
  return `data:image/png;base64,${String(base64)}`;
}

// ---- flows --------------------------------------------------------------------

async function signIn(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearMessage();
  const username = input('signin-username').value.trim();
  const password = input('signin-password').value;
  const code = input('signin-code').value.replace(/\s+/g, '');
  if (username === '' || password === '' || !/^\d{6}$/.test(code)) {
    showMessage('Enter your username, your password and the 6-digit code from your authenticator app.');
    (username === '' ? input('signin-username') : password === '' ? input('signin-password') : input('signin-code')).focus();
    return;
  }
  const answer = await busy(element('signin-form'), () => post(state.config.authenticate, { username, password, totp: code }));
  state.username = username;
  if (answer.status === 200) return showSignedIn(answer.body);
  input('signin-code').value = '';
  if (answer.status === 403 && answer.body.code === 'credentials_expired' && typeof answer.body.renewal_token === 'string') {
    state.purpose = 'renewal';
    state.renewalToken = answer.body.renewal_token;
    input('signin-password').value = '';
    showMessage(`Your password and code are right, but your credentials have expired (they must be renewed every six months). Renew them now, before ${formatWhen(answer.body.renewal_expires_at)}.`, 'info');
    show('expired', element('renew'));
    return;
  }
  showMessage(describeFailure(answer, 'signin'));
  (answer.body.code === 'invalid_credentials' ? input('signin-password') : input('signin-username')).focus();
}

async function generatePassword(form: HTMLElement, username: string): Promise<void> {
  const body: Record<string, string> = { username };
  if (state.purpose === 'invitation' && state.invitationToken) body.invitation_token = state.invitationToken;
  if (state.purpose === 'renewal' && state.renewalToken) body.renewal_token = state.renewalToken;
  const answer = await busy(form, () => post(state.config.generatePassword, body));
  if (answer.status !== 200 && answer.status !== 201) {
    showMessage(describeFailure(answer, 'create'));
    return;
  }
  state.username = String(answer.body.username ?? username);
  state.enrollmentToken = String(answer.body.enrollment_token);
  state.renewalToken = undefined;
  state.invitationToken = undefined;
  element<HTMLImageElement>('password-qr').src = qrSource(answer.body.qr_code_base64);
  clearMessage();
  show('password', element('password-title'));
  announce('Your new password is shown as a QR code. Scan it now, it will not be shown again.');
}

async function create(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearMessage();
  const username = input('create-username').value.trim();
  if (username === '') {
    showMessage('Enter the username you want (letters, digits and . _ - @).');
    input('create-username').focus();
    return;
  }
  await generatePassword(element('create-form'), username);
}

async function renew(): Promise<void> {
  clearMessage();
  await generatePassword(element('view-expired'), state.username);
}

async function enroll(): Promise<void> {
  clearMessage();
  if (state.enrollmentToken === undefined) return showCreate();
  const answer = await busy(element('view-password'), () =>
    post(state.config.generate2fa, { username: state.username, enrollment_token: state.enrollmentToken as string }),
  );
  if (answer.status !== 200) {
    showMessage(describeFailure(answer, 'enroll'));
    return;
  }
  // The password QR code is gone from the page once the user moved on.
  element<HTMLImageElement>('password-qr').removeAttribute('src');
  element<HTMLImageElement>('totp-qr').src = qrSource(answer.body.qr_code_2fa_base64);
  element('manual-key').textContent = String(answer.body.manual_entry_key).replace(/(.{4})(?=.)/g, '$1 ');
  show('2fa', element('twofa-title'));
  announce('Scan the QR code with your authenticator app, then enter your password and the first code.');
}

async function activate(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearMessage();
  const password = input('activate-password').value;
  const code = input('activate-code').value.replace(/\s+/g, '');
  if (password === '' || !/^\d{6}$/.test(code)) {
    showMessage('Enter the password from the first QR code and the 6-digit code your app shows now.');
    (password === '' ? input('activate-password') : input('activate-code')).focus();
    return;
  }
  const answer = await busy(element('activate-form'), () => post(state.config.authenticate, { username: state.username, password, totp: code }));
  if (answer.status === 200) {
    element<HTMLImageElement>('totp-qr').removeAttribute('src');
    element('manual-key').textContent = '';
    return showSignedIn(answer.body);
  }
  input('activate-code').value = '';
  showMessage(describeFailure(answer, 'enroll'));
  input(answer.body.code === 'invalid_credentials' ? 'activate-password' : 'activate-code').focus();
}

function signOut(): void {
  state.username = '';
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
  } catch {
    // the same-origin defaults of the development server
  }
}

function on(id: string, type: string, handler: (event: Event) => unknown): void {
  element(id).addEventListener(type, (event) => {
    void Promise.resolve(handler(event)).catch(() => showMessage('Something went wrong in the page. Reload it and try again.'));
  });
}

async function start(): Promise<void> {
  on('signin-form', 'submit', (event) => signIn(event as SubmitEvent));
  on('create-form', 'submit', (event) => create(event as SubmitEvent));
  on('activate-form', 'submit', (event) => activate(event as SubmitEvent));
  on('renew', 'click', renew);
  on('to-2fa', 'click', enroll);
  on('sign-out', 'click', signOut);
  on('nav-signin', 'click', () => { clearMessage(); showSignIn(); });
  on('nav-create', 'click', () => { clearMessage(); state.purpose = 'create'; showCreate(); });
  on('to-create', 'click', (event) => { event.preventDefault(); clearMessage(); state.purpose = 'create'; showCreate(); });
  await loadConfig();

  const params = new URLSearchParams(window.location.search);
  const invitation = params.get('invitation');
  const username = params.get('username');
  if (invitation !== null && invitation !== '') {
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
