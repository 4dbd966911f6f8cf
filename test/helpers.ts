// Moved to test/support/service.ts (the one fixture module); kept until the tests move into
// test/<capability>/ (scripts/reorganise-tests.sh points their imports there and removes this).
export * from './support/service.ts';
