// ESLint (flat config): ESLint's and typescript-eslint's recommended rules, type-aware
// (each file checked with its own tsconfig through the project service), with
// eslint-config-prettier last so that no rule argues with Prettier about layout.
// `npm run lint` runs this and `prettier --check`; `npm run format` rewrites the layout.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'lib/generated/', '.data/', 'test-artifacts/', 'bench/results/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `const { id: _id, ...record } = row` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Off: an `async` function with no `await` is how this code fits a Promise-returning
      // signature (a test's `token: async () => null`, a shutdown hook) and turns a throw
      // into a rejection. Promises left unhandled are what matters, and no-floating-promises
      // and no-misused-promises (on) catch those.
      '@typescript-eslint/require-await': 'off',
    },
  },
  // The build scripts are plain JavaScript run by Node, outside every tsconfig.
  {
    files: ['**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  // mocha's settings (.mocharc.cjs): CommonJS, which mocha reads with require().
  {
    files: ['**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node, sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
