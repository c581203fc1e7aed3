// Submit the filter form when a select changes (the form also has a button: works without JS).
document.addEventListener("change", function (ev) {
  var el = ev.target;
  if (el && el.tagName === "SELECT" && el.form && el.form.classList.contains("filters")) {
    el.form.submit();
  }
});
