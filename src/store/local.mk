# src/store/local.mk - included by Makefile.am; lists this module's sources and tests.
