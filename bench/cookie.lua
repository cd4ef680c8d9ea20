-- wrk: every request carries the session cookie from $COOKIE (W3).
wrk.headers["Cookie"] = os.getenv("COOKIE")
