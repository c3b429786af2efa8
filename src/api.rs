//! Every request the app makes to the server.
