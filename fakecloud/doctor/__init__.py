"""`fakecloud doctor`: checks that explain, in plain words, what would stop cameras and how to fix
it. Each check is a small function returning a `Check`; `run.run_doctor` gathers the facts."""
