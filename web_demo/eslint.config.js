// ESLint flat config for the demo page, the Node runner and the JS tests: `npm run lint` (zero findings in CI).
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/', 'dist/'] }, // dist/: built by `npm run build`
  js.configs.recommended,
  {
    rules: {
      eqeqeq: ['error', 'smart'], // `== null` for "null or undefined", === everywhere else
      'no-var': 'error',
      'prefer-const': 'error',
      'no-shadow': 'error',
      'no-implicit-globals': 'error',
      'no-console': ['error', { allow: ['warn', 'error', 'log'] }],
    },
  },
  // The page's modules also run in Node (model.js, contract.js, preprocess.js): browser globals, ES modules.
  { files: ['site/**/*.js'], languageOptions: { sourceType: 'module', globals: { ...globals.browser } } },
  // boot.js is a classic script, so that it runs before TF.js is parsed.
  { files: ['site/boot.js'], languageOptions: { sourceType: 'script' } },
  { files: ['node/**/*.mjs', 'test/**/*.mjs', 'eslint.config.js'], languageOptions: { globals: { ...globals.node } } },
];
