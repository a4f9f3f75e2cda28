// "Copy" buttons beside a secret shown once: data-copy="ID" copies the value of element ID.

function copied(button, text) {
  const note = button.parentElement.querySelector(".copied");
  if (note) note.textContent = text;
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    copied(button, "Copied.");
  } catch (error) {
    // Clipboard access needs a secure context (https or localhost); the text stays selected.
    copied(button, "Selected: press Ctrl+C (⌘C) to copy.");
  }
});
