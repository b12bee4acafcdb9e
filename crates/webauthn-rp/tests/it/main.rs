//! Integration tests: the whole conformance corpus, plus tampered copies of its cases.

mod corpus;
